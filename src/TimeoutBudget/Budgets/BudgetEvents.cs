namespace TimeoutBudget;

/// <summary>A requested timeout that does not fit inside the time the enclosing layer has left (minus margin and reserve).</summary>
public sealed class BudgetMisalignment
{
    internal BudgetMisalignment(string layer, string path, string parentLayer, string parentPath, TimeSpan requested, TimeSpan granted,
        TimeSpan parentRemaining, TimeSpan margin, TimeSpan reserve, TimeSpan available, BudgetMode mode, bool enclosingOnly)
    {
        Layer = layer;
        Path = path;
        ParentLayer = parentLayer;
        ParentPath = parentPath;
        Requested = requested;
        Granted = granted;
        ParentRemaining = parentRemaining;
        Margin = margin;
        Reserve = reserve;
        Available = available;
        Mode = mode;
        var deductions = reserve > TimeSpan.Zero
            ? $"reserve {DurationText.Format(reserve)}, margin {DurationText.Format(margin)}"
            : $"margin {DurationText.Format(margin)}";
        var consequence = enclosingOnly
            ? $"; {layer} was opened as a separate root (Budget.Start), so it is cancelled when {parentLayer} ends and its own timeout never fires (open it with Budget.Enter or {parentLayer}.Child to nest it)"
            : mode == BudgetMode.Clamp ? $"; granted {DurationText.Format(granted)}" : string.Empty;
        Message = $"{layer} requested {DurationText.Format(requested)} but {parentLayer} has {DurationText.Format(parentRemaining)} left ({deductions}); " +
                  $"inner timeouts must expire before the outer ones that contain them{consequence}.";
    }

    /// <summary>The inner layer.</summary>
    public string Layer { get; }

    /// <summary>The inner layer's path.</summary>
    public string Path { get; }

    /// <summary>The enclosing layer.</summary>
    public string ParentLayer { get; }

    /// <summary>The enclosing layer's path.</summary>
    public string ParentPath { get; }

    /// <summary>What the inner layer asked for.</summary>
    public TimeSpan Requested { get; }

    /// <summary>What it was given (equal to <see cref="Requested"/> for a separate root, which is not clamped).</summary>
    public TimeSpan Granted { get; }

    /// <summary>What the enclosing layer had left.</summary>
    public TimeSpan ParentRemaining { get; }

    /// <summary>The margin kept back.</summary>
    public TimeSpan Margin { get; }

    /// <summary>The enclosing layer's reserve.</summary>
    public TimeSpan Reserve { get; }

    /// <summary>The most the inner layer could have had.</summary>
    public TimeSpan Available { get; }

    /// <summary>The mode in force.</summary>
    public BudgetMode Mode { get; }

    /// <summary>A sentence naming both layers and every number.</summary>
    public string Message { get; }

    /// <inheritdoc />
    public override string ToString() => Message;
}

/// <summary>
/// An outer budget expired while an inner one that should have fired first was still armed: the inner timeout is longer
/// than the layer waiting for it (the thread-pool starvation of an SDK call longer than the wait around it). The inner
/// budget, a root opened inside the outer one, is cancelled with it; the report says its own timeout is misconfigured.
/// </summary>
public sealed class BudgetInversion
{
    internal BudgetInversion(string innerPath, string outerPath, TimeSpan innerRemaining, DateTimeOffset innerDeadline, DateTimeOffset outerDeadline)
    {
        InnerPath = innerPath;
        OuterPath = outerPath;
        InnerRemaining = innerRemaining;
        InnerDeadline = innerDeadline;
        OuterDeadline = outerDeadline;
        Message = $"{outerPath} expired while {innerPath}, which should have expired first, was still armed with {DurationText.Format(innerRemaining)} left; {innerPath} was cancelled with it, so its own timeout never fired.";
    }

    /// <summary>The inner budget still armed.</summary>
    public string InnerPath { get; }

    /// <summary>The outer budget that expired.</summary>
    public string OuterPath { get; }

    /// <summary>What the inner budget still had.</summary>
    public TimeSpan InnerRemaining { get; }

    /// <summary>The inner budget's deadline.</summary>
    public DateTimeOffset InnerDeadline { get; }

    /// <summary>The outer budget's deadline.</summary>
    public DateTimeOffset OuterDeadline { get; }

    /// <summary>A sentence naming both paths.</summary>
    public string Message { get; }

    /// <inheritdoc />
    public override string ToString() => Message;
}
