using Polly;
using Polly.Retry;

namespace TimeoutBudget.Polly;

/// <summary>
/// Wraps a Polly retry so that, before it sleeps and starts another attempt, it checks that the delay plus the attempt
/// still fit in what <see cref="Budget.Current"/> can give. When they do not, the retry stops at once and returns the last
/// real outcome, tagged with <see cref="BudgetResilienceKeys.RetryStopped"/>, instead of sleeping until an outer timeout cuts it off.
/// </summary>
/// <remarks>
/// The admission computes the delay itself (the user's <see cref="RetryStrategyOptions{TResult}.DelayGenerator"/> first, then the
/// backoff) and hands exactly that delay to Polly, so the delay checked is the delay slept. With
/// <see cref="RetryStrategyOptions{TResult}.UseJitter"/> the delay is the backoff delay times a factor from 0.75 to 1.25
/// drawn from <see cref="RetryStrategyOptions{TResult}.Randomizer"/>, capped by <see cref="RetryStrategyOptions{TResult}.MaxDelay"/>.
/// </remarks>
public static class BudgetRetryAdmission
{
    private static readonly ResiliencePropertyKey<TimeSpan> NextDelay = new("TimeoutBudget.NextDelay");

    /// <summary>Returns a copy of <paramref name="retry"/> with budget-aware admission; the original is not changed.</summary>
    /// <typeparam name="TResult">The pipeline's result type.</typeparam>
    /// <param name="retry">The retry options.</param>
    /// <param name="admission">How to judge an attempt; defaults when null.</param>
    /// <returns>The wrapped options, to pass to <c>AddRetry</c>.</returns>
    public static RetryStrategyOptions<TResult> Apply<TResult>(RetryStrategyOptions<TResult> retry, BudgetRetryAdmissionOptions? admission = null)
    {
        ArgumentNullException.ThrowIfNull(retry);
        return Apply(retry, new RetryStrategyOptions<TResult>(), admission ?? new BudgetRetryAdmissionOptions());
    }

    /// <summary>Returns a copy of <paramref name="retry"/> with budget-aware admission, for a non-generic pipeline.</summary>
    /// <param name="retry">The retry options.</param>
    /// <param name="admission">How to judge an attempt; defaults when null.</param>
    /// <returns>The wrapped options, to pass to <c>AddRetry</c>.</returns>
    public static RetryStrategyOptions Apply(RetryStrategyOptions retry, BudgetRetryAdmissionOptions? admission = null)
    {
        ArgumentNullException.ThrowIfNull(retry);
        return (RetryStrategyOptions)Apply(retry, new RetryStrategyOptions(), admission ?? new BudgetRetryAdmissionOptions());
    }

    /// <summary>The delay retry admission would use before retry <paramref name="attemptNumber"/> + 1 without a delay generator or jitter.</summary>
    /// <typeparam name="TResult">The pipeline's result type.</typeparam>
    /// <param name="retry">The retry options.</param>
    /// <param name="attemptNumber">The zero-based number of the attempt that just ended.</param>
    /// <returns>The delay, capped by <see cref="RetryStrategyOptions{TResult}.MaxDelay"/>.</returns>
    public static TimeSpan BackoffDelay<TResult>(RetryStrategyOptions<TResult> retry, int attemptNumber)
    {
        ArgumentNullException.ThrowIfNull(retry);
        return ToSchedule(retry, attempts: 2, jitterBound: false).DelayBefore(attemptNumber + 1);
    }

    internal static RetrySchedule ToSchedule<TResult>(RetryStrategyOptions<TResult> retry, int attempts, bool jitterBound)
    {
        var backoff = retry.BackoffType switch
        {
            DelayBackoffType.Linear => RetryBackoff.Linear,
            DelayBackoffType.Exponential => RetryBackoff.Exponential,
            _ => RetryBackoff.Constant,
        };
        var delay = jitterBound && retry.UseJitter ? TimeSpan.FromTicks(retry.Delay.Ticks / 4 * 5) : retry.Delay;
        return new RetrySchedule(attempts, Clamp(delay), backoff, retry.MaxDelay is { } max ? Clamp(max) : null);
    }

    private static TimeSpan Clamp(TimeSpan value) => value > DurationText.MaxValue ? DurationText.MaxValue : value < TimeSpan.Zero ? TimeSpan.Zero : value;

    private static RetryStrategyOptions<TResult> Apply<TResult>(RetryStrategyOptions<TResult> source, RetryStrategyOptions<TResult> copy, BudgetRetryAdmissionOptions admission)
    {
        var shouldHandle = source.ShouldHandle;
        var generator = source.DelayGenerator;
        var randomizer = source.Randomizer;
        var maxRetries = source.MaxRetryAttempts;

        copy.Name = source.Name;
        copy.MaxRetryAttempts = source.MaxRetryAttempts;
        copy.BackoffType = source.BackoffType;
        copy.UseJitter = source.UseJitter;
        copy.Delay = source.Delay;
        copy.MaxDelay = source.MaxDelay;
        copy.OnRetry = source.OnRetry;
        copy.Randomizer = source.Randomizer;
        copy.ShouldHandle = async args =>
        {
            if (!await shouldHandle(args).ConfigureAwait(false) || args.AttemptNumber >= maxRetries)
            {
                return false;
            }

            var delay = await NextDelayFor(source, generator, randomizer, args).ConfigureAwait(false);
            var budget = Budget.Current;
            var attempt = admission.AttemptTimeout ??
                (args.Context.Properties.TryGetValue(BudgetResilienceKeys.AttemptTimeout, out var recorded) ? recorded : TimeSpan.Zero);
            if (attempt < TimeSpan.Zero)
            {
                attempt = TimeSpan.Zero; // Infinite: the attempt takes whatever fits, so only the delay has to.
            }

            if (budget is not null)
            {
                var available = budget.Available;
                var fits = attempt > TimeSpan.Zero ? budget.Fits(attempt, delay) : delay < available;
                if (!fits)
                {
                    var stop = new BudgetRetryStop(budget.Path, args.AttemptNumber, delay, attempt, available);
                    args.Context.Properties.Set(BudgetResilienceKeys.RetryStopped, stop);
                    PollyLog.RetryStopped(budget, stop);
                    admission.OnStopped?.Invoke(stop);
                    return false;
                }
            }

            args.Context.Properties.Set(NextDelay, delay);
            return true;
        };
        copy.DelayGenerator = args =>
            args.Context.Properties.TryGetValue(NextDelay, out var delay) ? new ValueTask<TimeSpan?>(delay) : new ValueTask<TimeSpan?>((TimeSpan?)null);
        return copy;
    }

    private static async ValueTask<TimeSpan> NextDelayFor<TResult>(RetryStrategyOptions<TResult> retry,
        Func<RetryDelayGeneratorArguments<TResult>, ValueTask<TimeSpan?>>? generator, Func<double>? randomizer, RetryPredicateArguments<TResult> args)
    {
        if (generator is not null &&
            await generator(new RetryDelayGeneratorArguments<TResult>(args.Context, args.Outcome, args.AttemptNumber)).ConfigureAwait(false) is { } generated &&
            generated >= TimeSpan.Zero)
        {
            return generated;
        }

        var delay = BackoffDelay(retry, args.AttemptNumber);
        if (retry.UseJitter && delay > TimeSpan.Zero)
        {
            var factor = 0.75 + (0.5 * (randomizer ?? Random.Shared.NextDouble)());
            delay = TimeSpan.FromTicks((long)Math.Min(delay.Ticks * factor, DurationText.MaxValue.Ticks));
            if (retry.MaxDelay is { } cap && delay > cap)
            {
                delay = cap;
            }
        }

        return delay;
    }
}
