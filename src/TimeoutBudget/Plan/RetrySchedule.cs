using System.Text;

namespace TimeoutBudget;

/// <summary>How the delay between attempts grows. The names and arithmetic match Polly v8's <c>DelayBackoffType</c> without jitter.</summary>
public enum RetryBackoff
{
    /// <summary>Every retry waits <see cref="RetrySchedule.Delay"/>.</summary>
    Constant,

    /// <summary>Retry <c>n</c> waits <c>n × Delay</c>: 1 s, 2 s, 3 s…</summary>
    Linear,

    /// <summary>Retry <c>n</c> waits <c>2^(n−1) × Delay</c>: 1 s, 2 s, 4 s…</summary>
    Exponential,
}

/// <summary>
/// A finite retry schedule: the number of attempts (the first one included), the delay before each retry and how
/// it grows. Used to compute the worst case a retried layer can take, so it can be checked against its parent.
/// </summary>
/// <remarks>This file is compiled into the analyzer as well (netstandard2.0).</remarks>
public sealed class RetrySchedule
{
    /// <summary>The largest attempt count a schedule accepts. A plan that needs more is a retry-until-deadline loop, which a budget already expresses.</summary>
    public const int MaxAttemptsLimit = 10_000;

    /// <summary>Creates a schedule.</summary>
    /// <param name="maxAttempts">Every attempt including the first, from 1 to <see cref="MaxAttemptsLimit"/>.</param>
    /// <param name="delay">The base delay before a retry; zero or positive.</param>
    /// <param name="backoff">How the delay grows.</param>
    /// <param name="maxDelay">An optional cap on any single delay.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside its range.</exception>
    public RetrySchedule(int maxAttempts, TimeSpan delay = default, RetryBackoff backoff = RetryBackoff.Constant, TimeSpan? maxDelay = null)
    {
        if (maxAttempts < 1 || maxAttempts > MaxAttemptsLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(maxAttempts), maxAttempts, $"maxAttempts counts every attempt including the first and must be from 1 to {MaxAttemptsLimit}.");
        }

        if (delay < TimeSpan.Zero || delay > DurationText.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(delay), delay, "A retry delay must be zero or positive and at most 365 days.");
        }

        if (maxDelay is { } cap && (cap < TimeSpan.Zero || cap > DurationText.MaxValue))
        {
            throw new ArgumentOutOfRangeException(nameof(maxDelay), cap, "A maximum retry delay must be zero or positive and at most 365 days.");
        }

        if (backoff < RetryBackoff.Constant || backoff > RetryBackoff.Exponential)
        {
            throw new ArgumentOutOfRangeException(nameof(backoff), backoff, "Unknown backoff type.");
        }

        MaxAttempts = maxAttempts;
        Delay = delay;
        Backoff = backoff;
        MaxDelay = maxDelay;
    }

    /// <summary>Every attempt including the first.</summary>
    public int MaxAttempts { get; }

    /// <summary>The base delay before a retry.</summary>
    public TimeSpan Delay { get; }

    /// <summary>How the delay grows.</summary>
    public RetryBackoff Backoff { get; }

    /// <summary>The cap on any single delay, if any.</summary>
    public TimeSpan? MaxDelay { get; }

    /// <summary>The delay before retry number <paramref name="retry"/> (1 for the first retry, i.e. the second attempt).</summary>
    /// <param name="retry">The 1-based retry number.</param>
    /// <returns>The delay, capped by <see cref="MaxDelay"/>; saturates instead of overflowing.</returns>
    public TimeSpan DelayBefore(int retry)
    {
        if (retry < 1)
        {
            return TimeSpan.Zero;
        }

        var ticks = Backoff switch
        {
            RetryBackoff.Linear => Saturating.Multiply(Delay.Ticks, retry),
            RetryBackoff.Exponential => retry - 1 >= 62 ? (Delay.Ticks == 0 ? 0 : long.MaxValue) : Saturating.Multiply(Delay.Ticks, 1L << (retry - 1)),
            _ => Delay.Ticks,
        };

        if (MaxDelay is { } cap)
        {
            ticks = Math.Min(ticks, cap.Ticks);
        }

        return TimeSpan.FromTicks(ticks);
    }

    /// <summary>The longest the whole schedule can take: every attempt running to <paramref name="attemptTimeout"/>, plus every delay.</summary>
    /// <param name="attemptTimeout">The timeout of one attempt.</param>
    /// <returns>The worst case; saturates at <see cref="TimeSpan.MaxValue"/> instead of overflowing.</returns>
    public TimeSpan WorstCase(TimeSpan attemptTimeout)
    {
        var total = Saturating.Multiply(Math.Max(0, attemptTimeout.Ticks), MaxAttempts);
        for (var retry = 1; retry < MaxAttempts && total != long.MaxValue; retry++)
        {
            total = Saturating.Add(total, DelayBefore(retry).Ticks);
        }

        return TimeSpan.FromTicks(total);
    }

    /// <summary>
    /// The worst case written out, as messages quote it: <c>"3 attempts × 540 s + 1 s + 2 s = 1623 s"</c>.
    /// Long schedules are abbreviated.
    /// </summary>
    /// <param name="attemptTimeout">The timeout of one attempt.</param>
    /// <returns>The arithmetic.</returns>
    public string DescribeWorstCase(TimeSpan attemptTimeout)
    {
        var builder = new StringBuilder();
        builder.Append(MaxAttempts).Append(MaxAttempts == 1 ? " attempt × " : " attempts × ").Append(DurationText.Format(attemptTimeout));
        var retries = MaxAttempts - 1;
        var anyDelay = false;
        for (var retry = 1; retry <= retries; retry++)
        {
            anyDelay |= DelayBefore(retry) > TimeSpan.Zero;
        }

        if (anyDelay)
        {
            const int shown = 6;
            for (var retry = 1; retry <= retries && retry <= shown; retry++)
            {
                builder.Append(" + ").Append(DurationText.Format(DelayBefore(retry)));
            }

            if (retries > shown)
            {
                var rest = TimeSpan.Zero;
                for (var retry = shown + 1; retry <= retries; retry++)
                {
                    rest = TimeSpan.FromTicks(Saturating.Add(rest.Ticks, DelayBefore(retry).Ticks));
                }

                builder.Append(" + ").Append(DurationText.Format(rest)).Append(" (").Append(retries - shown).Append(" more delays)");
            }
        }

        return builder.Append(" = ").Append(DurationText.Format(WorstCase(attemptTimeout))).ToString();
    }

    /// <summary>The schedule as a plan would write it.</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        $"{MaxAttempts} attempts, {Backoff.ToString().ToLowerInvariant()} delay {DurationText.Format(Delay)}" +
        (MaxDelay is { } cap ? $" (at most {DurationText.Format(cap)})" : string.Empty);
}

/// <summary>Tick arithmetic that saturates at <see cref="long.MaxValue"/> instead of overflowing.</summary>
internal static class Saturating
{
    public static long Add(long a, long b)
    {
        a = Math.Max(0, a);
        b = Math.Max(0, b);
        return a > long.MaxValue - b ? long.MaxValue : a + b;
    }

    public static long Multiply(long a, long b)
    {
        if (a <= 0 || b <= 0)
        {
            return 0;
        }

        return a > long.MaxValue / b ? long.MaxValue : a * b;
    }
}
