using Polly;

namespace TimeoutBudget.Polly;

/// <summary>Properties this package reads and writes on a <see cref="ResilienceContext"/>.</summary>
public static class BudgetResilienceKeys
{
    /// <summary>The budget the innermost budget timeout strategy opened for the current execution; pass its <see cref="TimeoutBudget.Budget.Token"/> to the work.</summary>
    public static readonly ResiliencePropertyKey<Budget?> Budget = new("TimeoutBudget.Budget");

    /// <summary>The timeout the innermost budget timeout strategy asked for; retry admission uses it as the next attempt's length.</summary>
    public static readonly ResiliencePropertyKey<TimeSpan> AttemptTimeout = new("TimeoutBudget.AttemptTimeout");

    /// <summary>Set when budget-aware retry admission stopped retrying because the next delay and attempt could not fit.</summary>
    public static readonly ResiliencePropertyKey<BudgetRetryStop> RetryStopped = new("TimeoutBudget.RetryStopped");
}
