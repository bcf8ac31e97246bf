using Microsoft.Extensions.Logging;

namespace TimeoutBudget.Polly;

/// <summary>Log messages of the Polly integration, written to the budget's <see cref="BudgetOptions.LoggerFactory"/>.</summary>
internal static partial class PollyLog
{
    public const string Category = "TimeoutBudget.Polly";

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning,
        Message = "Retry stopped for lack of budget in {Path} after attempt {Attempt}: delay {Delay} + attempt {AttemptTimeout} does not fit in {Available}")]
    public static partial void RetryStopped(ILogger logger, string path, int attempt, string delay, string attemptTimeout, string available);

    public static void RetryStopped(Budget budget, BudgetRetryStop stop)
    {
        if (budget.Options.LoggerFactory is not { } factory)
        {
            return;
        }

        RetryStopped(factory.CreateLogger(Category), stop.Path, stop.AttemptNumber + 1, DurationText.Format(stop.Delay),
            DurationText.Format(stop.AttemptTimeout), DurationText.Format(stop.Available));
    }
}
