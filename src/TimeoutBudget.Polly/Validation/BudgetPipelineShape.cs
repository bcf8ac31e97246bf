using Polly.Retry;

namespace TimeoutBudget.Polly;

/// <summary>
/// The timeouts and retries of one pipeline — an optional total timeout around a retry around a per-attempt timeout —
/// checked at startup against the budget that will contain it, with the arithmetic in every violation.
/// </summary>
/// <remarks>
/// Build the pipeline from the same objects (<see cref="Total"/>, the retry options, <see cref="Attempt"/>) so the
/// numbers checked are the numbers run. With jitter, each delay is counted at its upper bound (1.25 × the backoff delay).
/// </remarks>
public sealed class BudgetPipelineShape
{
    /// <summary>Describes a pipeline.</summary>
    /// <param name="attempt">The per-attempt timeout.</param>
    /// <param name="retry">The retry around the attempt, if any.</param>
    /// <param name="total">The timeout around the whole retry, if any.</param>
    public BudgetPipelineShape(BudgetTimeoutStrategyOptions attempt, RetryStrategyOptions? retry = null, BudgetTimeoutStrategyOptions? total = null)
        : this(attempt, retry is null ? null : ToSchedule(retry), total)
    {
    }

    private BudgetPipelineShape(BudgetTimeoutStrategyOptions attempt, RetrySchedule? schedule, BudgetTimeoutStrategyOptions? total)
    {
        Attempt = attempt ?? throw new ArgumentNullException(nameof(attempt));
        Schedule = schedule;
        Total = total;
    }

    /// <summary>The per-attempt timeout.</summary>
    public BudgetTimeoutStrategyOptions Attempt { get; }

    /// <summary>The retry schedule (every attempt and each delay's upper bound), or null for one attempt.</summary>
    public RetrySchedule? Schedule { get; }

    /// <summary>The timeout around the whole retry, if any.</summary>
    public BudgetTimeoutStrategyOptions? Total { get; }

    /// <summary>The longest the pipeline can take: the total timeout if set and shorter, else every attempt and delay.</summary>
    public TimeSpan WorstCase
    {
        get
        {
            var retried = Schedule?.WorstCase(Attempt.Timeout) ?? Attempt.Timeout;
            return Total is { } total && total.Timeout >= TimeSpan.Zero && total.Timeout < retried ? total.Timeout : retried;
        }
    }

    /// <summary>Describes a pipeline whose result type is <typeparamref name="TResult"/>.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="attempt">The per-attempt timeout.</param>
    /// <param name="retry">The retry, if any.</param>
    /// <param name="total">The total timeout, if any.</param>
    /// <returns>The shape.</returns>
    public static BudgetPipelineShape For<TResult>(BudgetTimeoutStrategyOptions attempt, RetryStrategyOptions<TResult>? retry = null, BudgetTimeoutStrategyOptions? total = null) =>
        new(attempt, retry is null ? null : ToSchedule(retry), total);

    /// <summary>Checks the pipeline against a budget of <paramref name="budget"/> named <paramref name="layer"/>.</summary>
    /// <param name="layer">The containing layer's name.</param>
    /// <param name="budget">The containing layer's timeout.</param>
    /// <param name="margin">The margin it keeps from its children; <see cref="BudgetMargin.Default"/> when null.</param>
    /// <param name="reserve">The reserve it keeps for a fallback.</param>
    /// <returns>Every violation; empty when the pipeline fits.</returns>
    public IReadOnlyList<BudgetViolation> Validate(string layer, TimeSpan budget, BudgetMargin? margin = null, TimeSpan reserve = default) =>
        ToPlan(layer, budget, margin, reserve).Validate();

    /// <summary>Checks the pipeline against a layer of a plan, with that layer's margin and reserve.</summary>
    /// <param name="node">The layer the pipeline runs in.</param>
    /// <returns>Every violation; empty when the pipeline fits.</returns>
    public IReadOnlyList<BudgetViolation> Validate(BudgetPlanNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return Validate(node.Layer, node.WorstCase, node.EffectiveMargin, node.Reserve);
    }

    /// <summary>Throws at startup when the pipeline does not fit, listing every violation.</summary>
    /// <param name="layer">The containing layer's name.</param>
    /// <param name="budget">The containing layer's timeout.</param>
    /// <param name="margin">The margin; <see cref="BudgetMargin.Default"/> when null.</param>
    /// <param name="reserve">The reserve.</param>
    /// <exception cref="BudgetPlanException">The pipeline's worst case does not fit.</exception>
    public void EnsureFits(string layer, TimeSpan budget, BudgetMargin? margin = null, TimeSpan reserve = default) =>
        ToPlan(layer, budget, margin, reserve).EnsureValid();

    /// <summary>The pipeline as a plan under a root layer, for <see cref="BudgetPlan.Validate"/> or for printing.</summary>
    /// <param name="layer">The containing layer's name.</param>
    /// <param name="budget">The containing layer's timeout.</param>
    /// <param name="margin">The margin; <see cref="BudgetMargin.Default"/> when null.</param>
    /// <param name="reserve">The reserve.</param>
    /// <returns>The plan.</returns>
    public BudgetPlan ToPlan(string layer, TimeSpan budget, BudgetMargin? margin = null, TimeSpan reserve = default) =>
        BudgetPlan.Create(layer, budget, root =>
        {
            root.WithMargin(margin ?? BudgetMargin.Default).WithReserve(reserve);
            if (Total is { } total)
            {
                root.Child(total.Layer, Finite(total.Timeout), t => t.Child(Attempt.Layer, Finite(Attempt.Timeout), AddRetry));
            }
            else
            {
                root.Child(Attempt.Layer, Finite(Attempt.Timeout), AddRetry);
            }
        });

    private void AddRetry(BudgetPlanBuilder attempt)
    {
        if (Schedule is { MaxAttempts: > 1 } schedule)
        {
            attempt.WithRetry(schedule);
        }
    }

    private static TimeSpan Finite(TimeSpan timeout) => timeout < TimeSpan.Zero ? System.Threading.Timeout.InfiniteTimeSpan : timeout;

    private static RetrySchedule ToSchedule<TResult>(RetryStrategyOptions<TResult> retry)
    {
        var attempts = retry.MaxRetryAttempts >= RetrySchedule.MaxAttemptsLimit ? RetrySchedule.MaxAttemptsLimit : retry.MaxRetryAttempts + 1;
        return BudgetRetryAdmission.ToSchedule(retry, attempts, jitterBound: true);
    }
}
