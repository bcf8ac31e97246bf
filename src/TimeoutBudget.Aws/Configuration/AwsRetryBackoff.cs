namespace TimeoutBudget.Aws;

/// <summary>
/// The worst case assumed for the SDK's backoff between attempts: retry <c>n</c> waits at most
/// min(<see cref="MaxBackoff"/>, <see cref="BaseDelay"/> × 2^n). The SDK draws a random fraction of that (full jitter), so
/// the bound is what a budget must be able to hold.
/// </summary>
public sealed record AwsRetryBackoff
{
    /// <summary>
    /// The standard and adaptive retry modes' bound: a 500 ms base (the base used for throttling errors, the larger of the
    /// two) and the 20 s cap documented for <c>StandardRetryPolicy.MaxBackoffInMilliseconds</c>.
    /// </summary>
    public static AwsRetryBackoff Standard { get; } = new();

    /// <summary>The base of the exponential backoff. Default 500 ms.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The cap on any single backoff. Default 20 s.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The longest wait before retry <paramref name="retry"/> (1 for the first retry).</summary>
    /// <param name="retry">The 1-based retry number.</param>
    /// <returns>The bound; zero for <paramref name="retry"/> below 1.</returns>
    public TimeSpan Before(int retry)
    {
        if (retry < 1 || BaseDelay <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var cap = MaxBackoff < TimeSpan.Zero ? TimeSpan.Zero : MaxBackoff;
        if (retry >= 62)
        {
            return cap;
        }

        var ticks = BaseDelay.Ticks > cap.Ticks >> retry ? cap.Ticks : BaseDelay.Ticks << retry;
        return TimeSpan.FromTicks(Math.Min(ticks, cap.Ticks));
    }
}
