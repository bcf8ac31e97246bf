using Amazon.Runtime;

namespace TimeoutBudget.Aws;

/// <summary>Checks and aligns an AWS SDK <see cref="ClientConfig"/> against a budget or a plan layer.</summary>
public static class AwsClientBudget
{
    /// <summary>The per-attempt timeout assumed when a config sets none: the HttpClient default, 100 s.</summary>
    public static readonly TimeSpan DefaultAttemptTimeout = TimeSpan.FromSeconds(100);

    /// <summary>Checks whether the client's worst case fits in a budget.</summary>
    /// <param name="config">The client's config (its <c>Timeout</c> and <c>MaxErrorRetry</c> are read).</param>
    /// <param name="layer">The budget's layer, for the message.</param>
    /// <param name="budget">The budget the SDK call runs in.</param>
    /// <param name="margin">The margin it keeps; <see cref="BudgetMargin.Default"/> when null.</param>
    /// <param name="backoff">The backoff bound; <see cref="AwsRetryBackoff.Standard"/> when null.</param>
    /// <returns>The report, with the arithmetic.</returns>
    public static AwsBudgetReport Check(IClientConfig config, string layer, TimeSpan budget, BudgetMargin? margin = null, AwsRetryBackoff? backoff = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrEmpty(layer);
        var timeout = config.Timeout is { } set && set > TimeSpan.Zero ? set : DefaultAttemptTimeout;
        return Report(layer, budget, margin, timeout, config.Timeout is null || config.Timeout <= TimeSpan.Zero, Math.Max(0, config.MaxErrorRetry), backoff);
    }

    /// <summary>Checks whether the client's worst case fits in a plan layer (its worst case, margin and reserve).</summary>
    /// <param name="config">The client's config.</param>
    /// <param name="node">The plan layer the SDK call runs in.</param>
    /// <param name="backoff">The backoff bound.</param>
    /// <returns>The report.</returns>
    public static AwsBudgetReport Check(IClientConfig config, BudgetPlanNode node, AwsRetryBackoff? backoff = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        var window = node.WorstCase - node.Reserve;
        return Check(config, node.Path, window, node.EffectiveMargin, backoff);
    }

    /// <summary>
    /// Fixes the config so its worst case fits: keeps its retries while each attempt can still get at least
    /// <paramref name="minimumAttempt"/>, dropping retries otherwise (seed 000's fix: retries off, one attempt just inside
    /// the wait), and sets <c>Timeout</c> to the largest per-attempt value that fits. Every change is listed with its old and
    /// new value in <see cref="AwsBudgetReport.Changes"/> and at the start of the report's text (<c>"Changed Timeout 240 s → 56 s. …"</c>).
    /// </summary>
    /// <param name="config">The config to change.</param>
    /// <param name="layer">The budget's layer.</param>
    /// <param name="budget">The budget the SDK call runs in.</param>
    /// <param name="margin">The margin; <see cref="BudgetMargin.Default"/> when null.</param>
    /// <param name="minimumAttempt">The shortest attempt worth making; default 1 s.</param>
    /// <param name="backoff">The backoff bound.</param>
    /// <returns>The report for the config as changed.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The budget minus its margin is not positive.</exception>
    public static AwsBudgetReport Align(ClientConfig config, string layer, TimeSpan budget, BudgetMargin? margin = null, TimeSpan? minimumAttempt = null, AwsRetryBackoff? backoff = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var floor = minimumAttempt ?? TimeSpan.FromSeconds(1);
        var bound = backoff ?? AwsRetryBackoff.Standard;
        var limit = budget - (margin ?? BudgetMargin.Default).For(budget);
        if (limit <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(budget), budget, $"{layer} {DurationText.Format(budget)} leaves no time for an SDK call after its margin.");
        }

        for (var retries = Math.Max(0, config.MaxErrorRetry); retries >= 0; retries--)
        {
            var backoffs = TimeSpan.Zero;
            for (var retry = 1; retry <= retries; retry++)
            {
                backoffs += bound.Before(retry);
            }

            var perAttempt = TimeSpan.FromTicks((limit - backoffs).Ticks / (retries + 1));
            perAttempt = TimeSpan.FromMilliseconds(Math.Floor(perAttempt.TotalMilliseconds));
            if (perAttempt >= floor || retries == 0)
            {
                if (perAttempt <= TimeSpan.Zero)
                {
                    break;
                }

                var changes = new List<string>();
                var oldRetries = config.MaxErrorRetry;
                config.MaxErrorRetry = retries;
                if (oldRetries != retries)
                {
                    changes.Add($"MaxErrorRetry {oldRetries} → {retries}");
                }

                if (config.Timeout is not { } current || current <= TimeSpan.Zero || current > perAttempt)
                {
                    var old = config.Timeout is { } set && set > TimeSpan.Zero ? DurationText.Format(set) : $"unset (HttpClient default {DurationText.Format(DefaultAttemptTimeout)})";
                    config.Timeout = perAttempt;
                    changes.Add($"Timeout {old} → {DurationText.Format(perAttempt)}");
                }

                return Check(config, layer, budget, margin, bound).WithChanges(changes);
            }
        }

        throw new ArgumentOutOfRangeException(nameof(budget), budget, $"{layer} {DurationText.Format(budget)} cannot hold even one SDK attempt.");
    }

    private static AwsBudgetReport Report(string layer, TimeSpan budget, BudgetMargin? margin, TimeSpan timeout, bool isDefault, int retries, AwsRetryBackoff? backoff)
    {
        var bound = backoff ?? AwsRetryBackoff.Standard;
        var backoffs = new List<TimeSpan>();
        for (var retry = 1; retry <= retries && retry <= RetrySchedule.MaxAttemptsLimit; retry++)
        {
            backoffs.Add(bound.Before(retry));
        }

        var kept = (margin ?? BudgetMargin.Default).For(budget);
        return new AwsBudgetReport(layer, budget, kept, timeout, isDefault, retries + 1, backoffs);
    }
}
