namespace TimeoutBudget;

/// <summary>A budget ran out. <see cref="Layer"/> and <see cref="Path"/> name the innermost layer whose deadline passed.</summary>
public sealed class BudgetExhaustedException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="layer">The layer whose deadline passed.</param>
    /// <param name="path">That layer's full path.</param>
    /// <param name="allotted">The time the layer was granted.</param>
    /// <param name="elapsed">The time that had passed since it opened.</param>
    /// <param name="message">The message; a default naming the layer and numbers is used when null.</param>
    /// <param name="innerException">The cancellation that surfaced the expiry, if any.</param>
    public BudgetExhaustedException(string layer, string path, TimeSpan allotted, TimeSpan elapsed, string? message = null, Exception? innerException = null)
        : base(message ?? $"The '{layer}' budget ({path}) ran out: {DurationText.Format(allotted)} allotted, {DurationText.Format(elapsed)} elapsed.", innerException)
    {
        Layer = layer;
        Path = path;
        Allotted = allotted;
        Elapsed = elapsed;
    }

    /// <summary>The layer whose deadline passed.</summary>
    public string Layer { get; }

    /// <summary>That layer's full path, e.g. <c>"orchestrator/transport/client"</c>.</summary>
    public string Path { get; }

    /// <summary>The time the layer was granted.</summary>
    public TimeSpan Allotted { get; }

    /// <summary>The time that had passed since the layer opened.</summary>
    public TimeSpan Elapsed { get; }
}

/// <summary>The caller cancelled work under a budget (a client disconnect, a shutdown). This is not a timeout, and is never reported as one.</summary>
public sealed class BudgetCancelledException : OperationCanceledException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="layer">The layer whose caller cancelled.</param>
    /// <param name="path">That layer's full path.</param>
    /// <param name="elapsed">The time since the layer opened.</param>
    /// <param name="remaining">The time the layer still had.</param>
    /// <param name="token">The budget token that was cancelled.</param>
    /// <param name="innerException">The cancellation that surfaced it, if any.</param>
    public BudgetCancelledException(string layer, string path, TimeSpan elapsed, TimeSpan remaining, CancellationToken token, Exception? innerException = null)
        : base($"'{layer}' ({path}) was cancelled by its caller after {DurationText.Format(elapsed)} with {DurationText.Format(remaining)} still left: the caller's cancellation, not a timeout.", innerException, token)
    {
        Layer = layer;
        Path = path;
        Elapsed = elapsed;
        Remaining = remaining;
    }

    /// <summary>The layer whose caller cancelled.</summary>
    public string Layer { get; }

    /// <summary>That layer's full path.</summary>
    public string Path { get; }

    /// <summary>The time since the layer opened.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The time the layer still had when its caller cancelled.</summary>
    public TimeSpan Remaining { get; }
}

/// <summary>
/// In <see cref="BudgetMode.Strict"/>, a requested timeout does not fit inside the time its parent has left minus the margin:
/// the inner layer would not expire before the outer one that contains it.
/// </summary>
public sealed class BudgetMisalignedException : InvalidOperationException
{
    /// <summary>Creates the exception from a misalignment report.</summary>
    /// <param name="misalignment">The numbers.</param>
    public BudgetMisalignedException(BudgetMisalignment misalignment)
        : base((misalignment ?? throw new ArgumentNullException(nameof(misalignment))).Message)
    {
        ChildLayer = misalignment.Layer;
        ParentLayer = misalignment.ParentLayer;
        Requested = misalignment.Requested;
        ParentRemaining = misalignment.ParentRemaining;
        Margin = misalignment.Margin;
        Reserve = misalignment.Reserve;
        Available = misalignment.Available;
    }

    /// <summary>The inner layer that asked for too much.</summary>
    public string ChildLayer { get; }

    /// <summary>The outer layer it would not fit in.</summary>
    public string ParentLayer { get; }

    /// <summary>What the inner layer asked for.</summary>
    public TimeSpan Requested { get; }

    /// <summary>What the outer layer had left.</summary>
    public TimeSpan ParentRemaining { get; }

    /// <summary>The margin the outer layer keeps from its children.</summary>
    public TimeSpan Margin { get; }

    /// <summary>The reserve the outer layer keeps for its own fallback.</summary>
    public TimeSpan Reserve { get; }

    /// <summary>The most the inner layer could have had.</summary>
    public TimeSpan Available { get; }
}
