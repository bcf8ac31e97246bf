using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace TimeoutBudget;

/// <summary>The names under which TimeoutBudget publishes metrics and activity events.</summary>
public static class BudgetTelemetryNames
{
    /// <summary>The <see cref="Meter"/> and <see cref="ActivitySource"/> name: <c>TimeoutBudget</c>.</summary>
    public const string MeterName = "TimeoutBudget";

    /// <summary>Counter: budgets whose own deadline passed while open. Tag <c>layer</c>.</summary>
    public const string Expired = "timeoutbudget.budget.expired";

    /// <summary>Counter: requested timeouts that did not fit their parent (clamped, or separate roots longer than the budget around them). Tags <c>layer</c>, <c>parent_layer</c>, <c>mode</c>.</summary>
    public const string Misaligned = "timeoutbudget.budget.misaligned";

    /// <summary>Counter: outer budgets that expired while an inner one that should have fired first was still armed. Tags <c>layer</c> (inner), <c>outer_layer</c>.</summary>
    public const string Inverted = "timeoutbudget.budget.inverted";

    /// <summary>Counter: terminal outcomes of work run under a budget. Tags <c>layer</c>, <c>outcome</c> (completed, faulted, expired, cancelled).</summary>
    public const string Outcomes = "timeoutbudget.work.outcomes";

    /// <summary>Histogram (s): time left in the budget when its work ended. Tags <c>layer</c>, <c>outcome</c>.</summary>
    public const string RemainingAtCompletion = "timeoutbudget.budget.remaining_at_completion";

    /// <summary>Up-down counter: work past its deadline that has not ended yet (orphans in flight), as seen by a monitor sweep. Tag <c>layer</c>.</summary>
    public const string Orphans = "timeoutbudget.work.orphans";

    /// <summary>Counter (s): time work kept running after its deadline, added when it finally ends. Tag <c>layer</c>.</summary>
    public const string PostDeadline = "timeoutbudget.work.post_deadline";
}

/// <summary>One meter, one activity source and the log messages, shared by every budget.</summary>
internal static partial class BudgetTelemetry
{
    public static readonly ActivitySource Source = new(BudgetTelemetryNames.MeterName, typeof(BudgetTelemetry).Assembly.GetName().Version?.ToString());
    public static readonly Meter Meter = new(BudgetTelemetryNames.MeterName, typeof(BudgetTelemetry).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> ExpiredCounter = Meter.CreateCounter<long>(BudgetTelemetryNames.Expired, "{budget}", "Budgets whose own deadline passed while open.");
    private static readonly Counter<long> MisalignedCounter = Meter.CreateCounter<long>(BudgetTelemetryNames.Misaligned, "{budget}", "Requested timeouts that did not fit inside the enclosing budget.");
    private static readonly Counter<long> InvertedCounter = Meter.CreateCounter<long>(BudgetTelemetryNames.Inverted, "{budget}", "Outer budgets that expired while an inner one was still armed.");
    private static readonly Counter<long> OutcomeCounter = Meter.CreateCounter<long>(BudgetTelemetryNames.Outcomes, "{run}", "Terminal outcomes of work run under a budget.");
    private static readonly Histogram<double> RemainingHistogram = Meter.CreateHistogram<double>(BudgetTelemetryNames.RemainingAtCompletion, "s", "Budget time left when the work ended.");
    internal static readonly UpDownCounter<long> OrphanCounter = Meter.CreateUpDownCounter<long>(BudgetTelemetryNames.Orphans, "{work}", "Work past its deadline that has not ended yet.");
    internal static readonly Counter<double> PostDeadlineCounter = Meter.CreateCounter<double>(BudgetTelemetryNames.PostDeadline, "s", "Time work kept running after its deadline.");

    public static void ReportMisaligned(BudgetOptions options, BudgetMisalignment misalignment)
    {
        MisalignedCounter.Add(1,
            new KeyValuePair<string, object?>("layer", misalignment.Layer),
            new KeyValuePair<string, object?>("parent_layer", misalignment.ParentLayer),
            new KeyValuePair<string, object?>("mode", misalignment.Mode == BudgetMode.Strict ? "strict" : "clamp"));
        Activity.Current?.AddEvent(new ActivityEvent("timeoutbudget.misaligned", tags: new ActivityTagsCollection
        {
            ["timeoutbudget.path"] = misalignment.Path,
            ["timeoutbudget.parent_path"] = misalignment.ParentPath,
            ["timeoutbudget.requested_ms"] = misalignment.Requested.TotalMilliseconds,
            ["timeoutbudget.available_ms"] = misalignment.Available.TotalMilliseconds,
        }));
        if (options.Logger is { } logger)
        {
            LogMisaligned(logger, misalignment.Path, misalignment.Message);
        }

        Invoke(options.OnMisaligned, misalignment);
    }

    public static void ReportExpired(Budget budget)
    {
        ExpiredCounter.Add(1, new KeyValuePair<string, object?>("layer", budget.Layer));
        if (budget.Options.Logger is { } logger)
        {
            LogExpired(logger, budget.Path, DurationText.Format(budget.Allotted));
        }
    }

    public static void ReportInverted(BudgetOptions options, BudgetInversion inversion)
    {
        InvertedCounter.Add(1,
            new KeyValuePair<string, object?>("layer", LayerPath.LastSegment(inversion.InnerPath)),
            new KeyValuePair<string, object?>("outer_layer", LayerPath.LastSegment(inversion.OuterPath)));
        if (options.Logger is { } logger)
        {
            LogInverted(logger, inversion.InnerPath, inversion.OuterPath, inversion.Message);
        }

        Invoke(options.OnInverted, inversion);
    }

    public static void RecordOutcome(Budget budget, BudgetOutcome outcome, Exception? exception)
    {
        var outcomeTag = outcome switch
        {
            BudgetOutcome.Completed => "completed",
            BudgetOutcome.Faulted => "faulted",
            BudgetOutcome.Expired => "expired",
            _ => "cancelled",
        };
        var layer = new KeyValuePair<string, object?>("layer", budget.Layer);
        var outcomeKv = new KeyValuePair<string, object?>("outcome", outcomeTag);
        OutcomeCounter.Add(1, layer, outcomeKv);
        if (RemainingHistogram.Enabled)
        {
            RemainingHistogram.Record(budget.Remaining.TotalSeconds, layer, outcomeKv);
        }

        if (outcome != BudgetOutcome.Completed)
        {
            Activity.Current?.AddEvent(new ActivityEvent("timeoutbudget." + outcomeTag, tags: new ActivityTagsCollection
            {
                ["timeoutbudget.path"] = budget.Path,
                ["timeoutbudget.expired_path"] = (exception as BudgetExhaustedException)?.Path,
                ["exception.type"] = exception?.GetType().FullName,
            }));
        }

        if (budget.Options.Logger is not { } logger)
        {
            return;
        }

        switch (outcome)
        {
            case BudgetOutcome.Expired:
                LogRunExpired(logger, budget.Path, (exception as BudgetExhaustedException)?.Path ?? budget.Path);
                break;
            case BudgetOutcome.Cancelled:
                LogRunCancelled(logger, budget.Path);
                break;
            case BudgetOutcome.Faulted:
                LogRunFaulted(logger, exception, budget.Path, exception?.GetType().Name ?? "unknown");
                break;
        }
    }

    private static void Invoke<T>(Action<T>? callback, T value)
    {
        try
        {
            callback?.Invoke(value);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // A broken observer must not turn a report into a failure of the work it reports on.
            Trace.TraceError($"TimeoutBudget: a {typeof(T).Name} callback threw: {exception}");
        }
    }


    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Misaligned timeout at {Path}: {Detail}")]
    private static partial void LogMisaligned(ILogger logger, string path, string detail);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Budget {Path} expired after its {Allotted}")]
    private static partial void LogExpired(ILogger logger, string path, string allotted);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Timeout inversion: {OuterPath} expired while {InnerPath} was still armed. {Detail}")]
    private static partial void LogInverted(ILogger logger, string innerPath, string outerPath, string detail);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Work under {Path} expired: the deadline of {ExpiredPath} passed")]
    private static partial void LogRunExpired(ILogger logger, string path, string expiredPath);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Work under {Path} was cancelled by its caller; not a timeout")]
    private static partial void LogRunCancelled(ILogger logger, string path);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Work under {Path} faulted with {ExceptionType}; recorded as faulted, not as a timeout")]
    private static partial void LogRunFaulted(ILogger logger, Exception? exception, string path, string exceptionType);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Work under {Path} is {Overdue} past its deadline and still running")]
    internal static partial void LogOverdue(ILogger logger, string path, string overdue);
}
