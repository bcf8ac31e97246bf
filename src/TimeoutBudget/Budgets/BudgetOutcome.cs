namespace TimeoutBudget;

/// <summary>The terminal state of work run under a budget. Every run ends in exactly one; none is left "processing".</summary>
public enum BudgetOutcome
{
    /// <summary>The work finished in time.</summary>
    Completed,

    /// <summary>The work failed with its own exception, which is not a timeout of any budget and is reported as itself.</summary>
    Faulted,

    /// <summary>A budget's deadline passed; <see cref="BudgetResult{T}.ExpiredLayer"/> names the layer.</summary>
    Expired,

    /// <summary>The caller cancelled (for example the HTTP client went away); not a timeout of ours.</summary>
    Cancelled,
}

/// <summary>The outcome of <see cref="Budget.TryRunAsync{T}(Func{CancellationToken, Task{T}})"/>: a value or the real cause, never both.</summary>
/// <typeparam name="T">The work's result type.</typeparam>
public readonly struct BudgetResult<T>
{
    internal BudgetResult(BudgetOutcome outcome, T? value, Exception? exception, string? expiredLayer, TimeSpan elapsed)
    {
        Outcome = outcome;
        Value = value;
        Exception = exception;
        ExpiredLayer = expiredLayer;
        Elapsed = elapsed;
    }

    /// <summary>How the work ended.</summary>
    public BudgetOutcome Outcome { get; }

    /// <summary>The result when <see cref="Outcome"/> is <see cref="BudgetOutcome.Completed"/>; otherwise default.</summary>
    public T? Value { get; }

    /// <summary>The real exception: the work's own for <see cref="BudgetOutcome.Faulted"/>, a <see cref="BudgetExhaustedException"/> or <see cref="BudgetCancelledException"/> otherwise; null when completed.</summary>
    public Exception? Exception { get; }

    /// <summary>The path of the layer whose deadline passed, for <see cref="BudgetOutcome.Expired"/>.</summary>
    public string? ExpiredLayer { get; }

    /// <summary>Time from the start of the run to its end.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Whether the work completed.</summary>
    public bool IsCompleted => Outcome == BudgetOutcome.Completed;

    /// <summary>The outcome, with the layer or exception type.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Outcome switch
    {
        BudgetOutcome.Completed => $"completed in {DurationText.Format(Elapsed)}",
        BudgetOutcome.Expired => $"expired at {ExpiredLayer} after {DurationText.Format(Elapsed)}",
        BudgetOutcome.Cancelled => $"cancelled by the caller after {DurationText.Format(Elapsed)}",
        _ => $"faulted with {Exception?.GetType().Name}: {Exception?.Message}",
    };
}
