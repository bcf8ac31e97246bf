using System.Numerics;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// The integer conversions between <see cref="TimeSpan"/> ticks and a clock's timestamps (<see cref="TimestampScale"/>),
/// and what a budget does with them on clocks whose frequency is neither the system clock's on Linux (10^9) nor
/// <see cref="FakeTimeProvider"/>'s (10^7).
/// </summary>
public sealed class TimestampScaleTests
{
    // 1 Hz and 3 Hz (coarser than a TimeSpan tick, not dividing 10^7), 1 kHz and 1 MHz (dividing 10^7), the ACPI power
    // management timer's 3,579,545 Hz, 10^7, 2.4e7 (neither), 10^9, 2.4e9 and 10^12 (multiples of 10^7), a prime near 10^9,
    // and two frequencies too high for the whole-seconds split (converted through 128-bit integers).
    public static readonly TheoryData<long> Frequencies = new()
    {
        1, 3, 1_000, 1_000_000, 3_579_545, 10_000_000, 24_000_000, 999_999_937, 1_000_000_000, 2_400_000_000,
        1_000_000_000_000, (long.MaxValue / TimeSpan.TicksPerSecond) + 1, long.MaxValue,
    };

    private static readonly long[] Durations =
    [
        0, -1, long.MinValue, 1, 2, 3, 99, 100, 101, 9_999_999, 10_000_000, 10_000_001, 123_456_789,
        TimeSpan.TicksPerDay, TimeSpan.FromDays(49).Ticks, TimeSpan.FromDays(365).Ticks, (long.MaxValue / 100) - 1,
        long.MaxValue / 100, (long.MaxValue / 100) + 1, long.MaxValue / 3, long.MaxValue - 1, long.MaxValue,
    ];

    [Theory]
    [MemberData(nameof(Frequencies))]
    public void Timestamp_ticks_are_the_exact_quotient_rounded_as_asked_and_saturate(long frequency)
    {
        var scale = new TimestampScale(frequency);
        Assert.Equal(frequency, scale.Frequency);
        foreach (var ticks in Durations.Concat(Neighbours(frequency)))
        {
            Assert.True(ExactToTimestamp(ticks, frequency, roundUp: false) == scale.ToTimestampTicks(ticks, roundUp: false), $"floor({ticks} ticks at {frequency} Hz)");
            Assert.True(ExactToTimestamp(ticks, frequency, roundUp: true) == scale.ToTimestampTicks(ticks, roundUp: true), $"ceiling({ticks} ticks at {frequency} Hz)");
        }
    }

    [Theory]
    [MemberData(nameof(Frequencies))]
    public void TimeSpan_ticks_are_the_exact_quotient_rounded_down_and_saturate(long frequency)
    {
        var scale = new TimestampScale(frequency);
        foreach (var timestamps in Durations.Concat(Neighbours(frequency)))
        {
            Assert.True(ExactToTicks(timestamps, frequency) == scale.ToTimeSpanTicks(timestamps), $"{timestamps} timestamp ticks at {frequency} Hz");
        }

        Assert.Equal(TimeSpan.Zero, scale.Between(100, 100));
        Assert.Equal(TimeSpan.Zero, scale.Between(101, 100));
        var second = Math.Min(frequency, long.MaxValue - 5);
        Assert.Equal(new TimeSpan(ExactToTicks(second, frequency)), scale.Between(5, 5 + second));
    }

    [Theory]
    [MemberData(nameof(Frequencies))]
    public void Conversions_are_exact_on_both_sides_of_each_overflow_edge(long frequency)
    {
        // Each conversion path saturates past its own limit: an exact product one step below it, the exact value still at
        // it, long.MaxValue one step past. The durations above never land on these points.
        var scale = new TimestampScale(frequency);
        foreach (var ticks in Edges(frequency, TimeSpan.TicksPerSecond))
        {
            Assert.True(ExactToTimestamp(ticks, frequency, roundUp: false) == scale.ToTimestampTicks(ticks, roundUp: false), $"floor({ticks} ticks at {frequency} Hz)");
            Assert.True(ExactToTimestamp(ticks, frequency, roundUp: true) == scale.ToTimestampTicks(ticks, roundUp: true), $"ceiling({ticks} ticks at {frequency} Hz)");
        }

        foreach (var timestamps in Edges(TimeSpan.TicksPerSecond, frequency))
        {
            Assert.True(ExactToTicks(timestamps, frequency) == scale.ToTimeSpanTicks(timestamps), $"{timestamps} timestamp ticks at {frequency} Hz");
        }
    }

    [Fact]
    public void A_clock_without_a_positive_frequency_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TimestampScale(0));
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => new TimestampScale(-1));
        Assert.Equal("frequency", refused.ParamName);
        Assert.StartsWith("A clock's timestamp frequency must be positive.", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1_000L)]
    [InlineData(3_579_545L)]
    [InlineData(24_000_000L)]
    [InlineData(999_999_937L)]
    [InlineData(1_000_000_000L)]
    public void A_child_never_ends_later_than_its_parent_minus_the_margin_at_any_frequency(long frequency)
    {
        var clock = new ScaledClock(frequency);
        var options = new BudgetOptions { TimeProvider = clock, MaxTimeout = TimeSpan.FromDays(49) };
        using var root = Budget.Start("root", TimeSpan.FromSeconds(10), options);
        Assert.Equal(clock.GetTimestamp() + ExactToTimestamp(TimeSpan.FromSeconds(10).Ticks, frequency, roundUp: false), root.DeadlineTimestamp);
        clock.Advance(TimeSpan.FromTicks(3_333_337));

        TimeSpan[] asked = [TimeSpan.FromTicks(1), TimeSpan.FromTicks(7), TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(6),
            TimeSpan.FromSeconds(10), TimeSpan.FromDays(49), TimeSpan.MaxValue, Timeout.InfiniteTimeSpan];
        foreach (var timeout in asked)
        {
            var now = clock.GetTimestamp();
            var remaining = ExactToTicks(root.DeadlineTimestamp - now, frequency);
            var margin = options.Margin.For(TimeSpan.FromTicks(remaining));
            var latest = root.DeadlineTimestamp - ExactToTimestamp(margin.Ticks, frequency, roundUp: true);
            using var child = root.Child("child", timeout);
            Assert.True(child.DeadlineTimestamp <= latest, $"{timeout} at {frequency} Hz: deadline {child.DeadlineTimestamp} > latest {latest}");
            Assert.True(child.DeadlineTimestamp < root.DeadlineTimestamp, $"{timeout} at {frequency} Hz");
            Assert.Equal(TimeSpan.FromTicks(remaining), root.Remaining);
            if (timeout != Timeout.InfiniteTimeSpan && timeout != TimeSpan.MaxValue && timeout < TimeSpan.FromTicks(remaining) - margin)
            {
                // Granted in full: the deadline is the opening instant plus the timeout, rounded down to a whole timestamp tick.
                Assert.Equal(timeout, child.Allotted);
                Assert.Equal(Math.Min(now + ExactToTimestamp(timeout.Ticks, frequency, roundUp: false), latest), child.DeadlineTimestamp);
            }
            else
            {
                Assert.Equal(TimeSpan.FromTicks(remaining) - margin, child.Allotted);
            }
        }
    }

    [Theory]
    [InlineData(1_000L)]
    [InlineData(3_579_545L)]
    [InlineData(24_000_000L)]
    [InlineData(999_999_937L)]
    [InlineData(1_000_000_000L)]
    public void A_new_root_has_all_of_a_whole_second_allotment_left_at_any_frequency(long frequency)
    {
        // Whole seconds are whole timestamp ticks at any frequency, so nothing may be lost on the way there and back. In
        // floating point it was: at 3,579,545 Hz a fresh 40-day root reported one TimeSpan tick less than 40 days.
        var clock = new ScaledClock(frequency);
        var options = new BudgetOptions { TimeProvider = clock, MaxTimeout = BudgetOptions.MaxTimeoutLimit };
        foreach (var timeout in new[] { TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10), TimeSpan.FromDays(1), TimeSpan.FromDays(40), BudgetOptions.MaxTimeoutLimit })
        {
            using var root = Budget.Start("root", timeout, options);
            Assert.Equal(timeout, root.Remaining);
            Assert.Equal(frequency * (long)timeout.TotalSeconds, root.DeadlineTimestamp - clock.GetTimestamp());
        }

        // A fraction of this clock's tick is rounded down: a root never ends later than it asked.
        var fractional = TimeSpan.TicksPerSecond + 1;
        using var odd = Budget.Start("odd", TimeSpan.FromTicks(fractional), options);
        Assert.Equal(ExactToTimestamp(fractional, frequency, roundUp: false), odd.DeadlineTimestamp - clock.GetTimestamp());
    }

    [Theory]
    [InlineData(1_000L)]
    [InlineData(3_579_545L)]
    [InlineData(1_000_000_000L)]
    public void Huge_and_infinite_roots_are_clamped_to_the_maximum_at_any_frequency(long frequency)
    {
        var clock = new ScaledClock(frequency);
        var options = new BudgetOptions { TimeProvider = clock, MaxTimeout = BudgetOptions.MaxTimeoutLimit };
        foreach (var timeout in new[] { TimeSpan.MaxValue, Timeout.InfiniteTimeSpan, TimeSpan.FromDays(10_000) })
        {
            using var root = Budget.Start("root", timeout, options);
            Assert.Equal(BudgetOptions.MaxTimeoutLimit, root.Allotted);
            Assert.Equal(clock.GetTimestamp() + ExactToTimestamp(BudgetOptions.MaxTimeoutLimit.Ticks, frequency, roundUp: false), root.DeadlineTimestamp);
            Assert.False(root.IsExpired);
            using var child = root.Child("child", TimeSpan.MaxValue);
            Assert.True(child.DeadlineTimestamp < root.DeadlineTimestamp);
            Assert.False(child.Token.IsCancellationRequested);
        }
    }

    [Theory]
    [InlineData(1_000L, 1L)]
    [InlineData(1_000L, 12_345L)]
    [InlineData(3_579_545L, 1L)]
    [InlineData(3_579_545L, 2_500_001L)]
    [InlineData(24_000_000L, 7L)]
    [InlineData(1_000_000_000L, 1L)]
    [InlineData(1_000_000_000L, 2_500_001L)]
    public void A_token_never_cancels_before_its_deadline_at_any_frequency(long frequency, long timeoutTicks)
    {
        var clock = new ScaledClock(frequency);
        var options = new BudgetOptions { TimeProvider = clock };
        using var root = Budget.Start("root", TimeSpan.FromSeconds(10), options);
        clock.Advance(TimeSpan.FromTicks(1_234_567));
        using var child = root.DetachedChild("child", TimeSpan.FromTicks(timeoutTicks));
        var token = child.Token;
        if (child.DeadlineTimestamp == clock.GetTimestamp())
        {
            // Shorter than one tick of a clock coarser than TimeSpan's, rounded down to none: born expired, as a zero
            // timeout is (its deadline is the opening instant, so it is not early by this clock either).
            Assert.True(frequency < TimeSpan.TicksPerSecond && ExactToTimestamp(timeoutTicks, frequency, roundUp: false) == 0);
            Assert.True(token.IsCancellationRequested);
            Assert.True(child.IsExpired);
            Assert.Equal(TimeSpan.Zero, child.Remaining);
            return;
        }

        // The last instant of the fake clock at which this clock still reads before the deadline.
        clock.AdvanceToJustBefore(child.DeadlineTimestamp);
        Assert.True(clock.GetTimestamp() < child.DeadlineTimestamp);
        Assert.False(token.IsCancellationRequested, $"cancelled at {clock.GetTimestamp()}, deadline {child.DeadlineTimestamp}");
        Assert.False(child.IsExpired);
        Assert.True(child.Remaining >= TimeSpan.Zero);

        // Then it does cancel: a timer that fired early (it counts whole milliseconds here) re-arms for the rest.
        for (var step = 0; step < 10 && !token.IsCancellationRequested; step++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.True(token.IsCancellationRequested);
        Assert.True(child.IsExpired);
        Assert.Equal(TimeSpan.Zero, child.Remaining);
        Assert.True(clock.GetTimestamp() >= child.DeadlineTimestamp);
    }

    private static IEnumerable<long> Neighbours(long frequency)
    {
        for (var delta = -2L; delta <= 2; delta++)
        {
            yield return frequency + delta;
            yield return (frequency * 7) + delta;
        }
    }

    /// <summary>
    /// Inputs around the overflow edges of a conversion multiplying by <paramref name="to"/> / <paramref name="from"/>: the
    /// largest input whose product by a whole factor fits, and the whole units of <paramref name="from"/> just at and
    /// past the largest count whose product fits, with no remainder, one unit, and a remainder of all but one unit.
    /// </summary>
    private static IEnumerable<long> Edges(long to, long from)
    {
        var candidates = new List<BigInteger>();
        if (to % from == 0)
        {
            var limit = long.MaxValue / (to / from);
            candidates.AddRange([limit - 1, limit, limit + 1]);
        }

        var wholeUnits = new BigInteger(long.MaxValue / to);
        foreach (var units in new[] { wholeUnits, wholeUnits + 1 })
        {
            candidates.AddRange([units * from, (units * from) + 1, (units * from) + from - 1]);
        }

        return candidates.Where(value => value >= 1 && value <= long.MaxValue).Select(value => (long)value).Distinct();
    }

    private static long ExactToTimestamp(long ticks, long frequency, bool roundUp) =>
        ticks <= 0 ? 0 : Saturate(Divide(new BigInteger(ticks) * frequency, TimeSpan.TicksPerSecond, roundUp));

    private static long ExactToTicks(long timestamps, long frequency) =>
        timestamps <= 0 ? 0 : Saturate(Divide(new BigInteger(timestamps) * TimeSpan.TicksPerSecond, frequency, roundUp: false));

    private static BigInteger Divide(BigInteger dividend, BigInteger divisor, bool roundUp)
    {
        var quotient = BigInteger.DivRem(dividend, divisor, out var remainder);
        return roundUp && !remainder.IsZero ? quotient + 1 : quotient;
    }

    private static long Saturate(BigInteger value) => value > long.MaxValue ? long.MaxValue : (long)value;

    /// <summary>A fake clock read at another frequency: its timestamp is the fake time since it started, converted and rounded down.</summary>
    private sealed class ScaledClock(long frequency) : TimeProvider
    {
        // Not zero, so that a deadline computed from it is not mistaken for "never opened".
        private const long Offset = 1_000_000;

        private readonly FakeTimeProvider _clock = new();
        private readonly long _startTicks = new FakeTimeProvider().GetUtcNow().UtcTicks;

        public override long TimestampFrequency => frequency;

        public override long GetTimestamp() => Offset + ExactToTimestamp(_clock.GetUtcNow().UtcTicks - _startTicks, frequency, roundUp: false);

        public override DateTimeOffset GetUtcNow() => _clock.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            _clock.CreateTimer(callback, state, dueTime, period);

        public void Advance(TimeSpan delta) => _clock.Advance(delta);

        /// <summary>Advances to the latest fake instant at which <see cref="GetTimestamp"/> is still below <paramref name="timestamp"/>.</summary>
        public void AdvanceToJustBefore(long timestamp)
        {
            // Elapsed ticks e read as Offset + floor(e * f / 10^7) < timestamp exactly when e < ceiling((timestamp - Offset) * 10^7 / f).
            var firstAt = (long)Divide(new BigInteger(timestamp - Offset) * TimeSpan.TicksPerSecond, frequency, roundUp: true);
            var target = _startTicks + firstAt - 1;
            var now = _clock.GetUtcNow().UtcTicks;
            Assert.True(target >= now, "the deadline is already behind the clock");
            _clock.Advance(TimeSpan.FromTicks(target - now));
        }
    }
}
