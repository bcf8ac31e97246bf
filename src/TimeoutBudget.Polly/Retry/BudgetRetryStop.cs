namespace TimeoutBudget.Polly;

/// <summary>Why budget-aware retry admission did not start another attempt: the next delay plus the attempt could not fit.</summary>
public sealed class BudgetRetryStop
{
    internal BudgetRetryStop(string path, int attemptNumber, TimeSpan delay, TimeSpan attemptTimeout, TimeSpan available)
    {
        Path = path;
        AttemptNumber = attemptNumber;
        Delay = delay;
        AttemptTimeout = attemptTimeout;
        Available = available;
    }

    /// <summary>The path of the budget the retry ran in.</summary>
    public string Path { get; }

    /// <summary>The zero-based number of the attempt whose outcome was returned (0 for the first attempt).</summary>
    public int AttemptNumber { get; }

    /// <summary>The delay the retry would have slept before the next attempt.</summary>
    public TimeSpan Delay { get; }

    /// <summary>The timeout of the next attempt (zero when unknown: then only the delay had to fit).</summary>
    public TimeSpan AttemptTimeout { get; }

    /// <summary>What the budget could still give a child when the decision was made.</summary>
    public TimeSpan Available { get; }

    /// <summary>The decision with its arithmetic.</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        $"Retry stopped after attempt {AttemptNumber + 1}: delay {DurationText.Format(Delay)} + attempt {DurationText.Format(AttemptTimeout)} does not fit in the {DurationText.Format(Available)} {Path} can still give; the last outcome was returned instead of sleeping until the deadline.";
}
