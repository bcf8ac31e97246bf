namespace TimeoutBudget.Polly;

/// <summary>How budget-aware retry admission decides whether another attempt is worth starting.</summary>
public sealed class BudgetRetryAdmissionOptions
{
    /// <summary>
    /// The timeout of one attempt. When null, the timeout of the budget timeout strategy inside the retry is used
    /// (<see cref="BudgetResilienceKeys.AttemptTimeout"/>); when there is none either, only the delay has to fit.
    /// </summary>
    public TimeSpan? AttemptTimeout { get; set; }

    /// <summary>
    /// Called when a retry is not started for lack of budget (which is also logged as a warning to the budget's
    /// <see cref="BudgetOptions.LoggerFactory"/>); exceptions it throws propagate to the caller.
    /// </summary>
    public Action<BudgetRetryStop>? OnStopped { get; set; }
}
