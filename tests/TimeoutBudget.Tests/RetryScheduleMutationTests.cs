namespace TimeoutBudget.Tests;

/// <summary>Exact ranges, arithmetic and wording of <see cref="RetrySchedule"/> (found untested by mutation testing).</summary>
public sealed class RetryScheduleMutationTests
{
    private static readonly TimeSpan JustOverMax = DurationText.MaxValue + TimeSpan.FromTicks(1);

    [Fact]
    public void Attempt_counts_from_one_to_the_limit_are_accepted()
    {
        Assert.Equal(1, new RetrySchedule(1).MaxAttempts);
        Assert.Equal(RetrySchedule.MaxAttemptsLimit, new RetrySchedule(RetrySchedule.MaxAttemptsLimit).MaxAttempts);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(RetrySchedule.MaxAttemptsLimit + 1)]
    public void Attempt_counts_outside_the_range_are_refused_with_the_range_in_the_message(int maxAttempts)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RetrySchedule(maxAttempts));
        Assert.Equal("maxAttempts", error.ParamName);
        Assert.Equal(maxAttempts, error.ActualValue);
        Assert.Contains("including the first", error.Message, StringComparison.Ordinal);
        Assert.Contains("from 1 to 10000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Delays_from_zero_to_365_days_are_accepted()
    {
        Assert.Equal(TimeSpan.Zero, new RetrySchedule(2, TimeSpan.Zero).Delay);
        Assert.Equal(DurationText.MaxValue, new RetrySchedule(2, DurationText.MaxValue).Delay);
        Assert.Equal(TimeSpan.Zero, new RetrySchedule(2, TimeSpan.FromSeconds(1), maxDelay: TimeSpan.Zero).MaxDelay);
        Assert.Equal(DurationText.MaxValue, new RetrySchedule(2, TimeSpan.FromSeconds(1), maxDelay: DurationText.MaxValue).MaxDelay);
    }

    [Fact]
    public void A_negative_or_too_long_delay_is_refused_naming_the_delay()
    {
        foreach (var delay in new[] { TimeSpan.FromTicks(-1), JustOverMax })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RetrySchedule(2, delay));
            Assert.Equal("delay", error.ParamName);
            Assert.Equal(delay, error.ActualValue);
            Assert.Contains("A retry delay must be zero or positive and at most 365 days.", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_negative_or_too_long_maximum_delay_is_refused_naming_the_maximum()
    {
        foreach (var cap in new[] { TimeSpan.FromTicks(-1), JustOverMax })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RetrySchedule(2, TimeSpan.FromSeconds(1), RetryBackoff.Constant, cap));
            Assert.Equal("maxDelay", error.ParamName);
            Assert.Equal(cap, error.ActualValue);
            Assert.Contains("A maximum retry delay must be zero or positive and at most 365 days.", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(3)]
    public void An_undefined_backoff_is_refused(int backoff)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RetrySchedule(2, TimeSpan.FromSeconds(1), (RetryBackoff)backoff));
        Assert.Equal("backoff", error.ParamName);
        Assert.Contains("Unknown backoff type.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_constructor_keeps_every_argument()
    {
        var schedule = new RetrySchedule(4, TimeSpan.FromSeconds(2), RetryBackoff.Exponential, TimeSpan.FromSeconds(5));
        Assert.Equal(4, schedule.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(2), schedule.Delay);
        Assert.Equal(RetryBackoff.Exponential, schedule.Backoff);
        Assert.Equal(TimeSpan.FromSeconds(5), schedule.MaxDelay);
        Assert.Null(new RetrySchedule(4).MaxDelay);
    }

    [Theory]
    [InlineData(RetryBackoff.Constant, new long[] { 0, 3, 3, 3, 3 })]
    [InlineData(RetryBackoff.Linear, new long[] { 0, 3, 6, 9, 12 })]
    [InlineData(RetryBackoff.Exponential, new long[] { 0, 3, 6, 12, 24 })]
    public void Delay_before_each_retry_follows_the_backoff_and_is_zero_before_the_first_attempt(RetryBackoff backoff, long[] seconds)
    {
        var schedule = new RetrySchedule(10, TimeSpan.FromSeconds(3), backoff);
        for (var retry = 0; retry < seconds.Length; retry++)
        {
            Assert.Equal(TimeSpan.FromSeconds(seconds[retry]), schedule.DelayBefore(retry));
        }

        Assert.Equal(TimeSpan.Zero, schedule.DelayBefore(-1));
    }

    [Fact]
    public void Exponential_delays_double_up_to_the_62nd_retry_and_saturate_from_the_63rd()
    {
        var schedule = new RetrySchedule(100, TimeSpan.FromTicks(1), RetryBackoff.Exponential);
        Assert.Equal(TimeSpan.FromTicks(1L << 61), schedule.DelayBefore(62));
        Assert.Equal(TimeSpan.MaxValue, schedule.DelayBefore(63));
        Assert.Equal(TimeSpan.MaxValue, schedule.DelayBefore(99));
    }

    [Fact]
    public void Exponential_growth_of_a_zero_delay_stays_zero_however_many_retries()
    {
        var schedule = new RetrySchedule(100, TimeSpan.Zero, RetryBackoff.Exponential);
        Assert.Equal(TimeSpan.Zero, schedule.DelayBefore(5));
        Assert.Equal(TimeSpan.Zero, schedule.DelayBefore(63));
        Assert.Equal(TimeSpan.FromSeconds(100), schedule.WorstCase(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Maximum_delay_caps_each_delay_but_never_raises_a_shorter_one()
    {
        var schedule = new RetrySchedule(5, TimeSpan.FromSeconds(1), RetryBackoff.Linear, TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(1), schedule.DelayBefore(1));
        Assert.Equal(TimeSpan.FromSeconds(2), schedule.DelayBefore(2));
        Assert.Equal(TimeSpan.FromSeconds(2), schedule.DelayBefore(3));
    }

    [Fact]
    public void Worst_case_is_every_attempt_plus_one_delay_per_retry()
    {
        var schedule = new RetrySchedule(3, TimeSpan.FromSeconds(1), RetryBackoff.Linear);
        Assert.Equal(TimeSpan.FromSeconds((3 * 10) + 1 + 2), schedule.WorstCase(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(10), new RetrySchedule(1, TimeSpan.FromSeconds(5)).WorstCase(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Worst_case_counts_a_negative_attempt_timeout_as_zero()
    {
        var schedule = new RetrySchedule(3, TimeSpan.FromSeconds(1), RetryBackoff.Linear);
        Assert.Equal(TimeSpan.FromSeconds(3), schedule.WorstCase(TimeSpan.FromSeconds(-10)));
    }

    [Fact]
    public void Worst_case_saturates_when_the_delays_alone_overflow()
    {
        var schedule = new RetrySchedule(70, TimeSpan.FromDays(1), RetryBackoff.Exponential);
        Assert.Equal(TimeSpan.MaxValue, schedule.WorstCase(TimeSpan.Zero));
    }

    [Fact]
    public void A_single_attempt_is_described_in_the_singular_without_delays()
    {
        var schedule = new RetrySchedule(1, TimeSpan.FromSeconds(1));
        Assert.Equal("1 attempt × 10 s = 10 s", schedule.DescribeWorstCase(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Zero_delays_are_left_out_of_the_description()
    {
        var schedule = new RetrySchedule(3);
        Assert.Equal("3 attempts × 10 s = 30 s", schedule.DescribeWorstCase(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Delays_are_listed_when_any_is_above_zero_however_small()
    {
        // Linear delays capped at zero are all zero: nothing to show.
        Assert.Equal("2 attempts × 1 s = 2 s", new RetrySchedule(2, TimeSpan.FromSeconds(1), RetryBackoff.Linear, TimeSpan.Zero).DescribeWorstCase(TimeSpan.FromSeconds(1)));

        // One delay of a single tick is enough to list them all.
        Assert.Equal("2 attempts × 500 ms + 0 ms = 1 s", new RetrySchedule(2, TimeSpan.FromTicks(1)).DescribeWorstCase(TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public void Six_delays_are_all_written_out()
    {
        var schedule = new RetrySchedule(7, TimeSpan.FromSeconds(1), RetryBackoff.Linear);
        Assert.Equal("7 attempts × 1 s + 1 s + 2 s + 3 s + 4 s + 5 s + 6 s = 28 s", schedule.DescribeWorstCase(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Delays_after_the_sixth_are_summed_and_counted()
    {
        var schedule = new RetrySchedule(9, TimeSpan.FromSeconds(1), RetryBackoff.Linear);
        Assert.Equal(
            "9 attempts × 1 s + 1 s + 2 s + 3 s + 4 s + 5 s + 6 s + 15 s (2 more delays) = 45 s",
            schedule.DescribeWorstCase(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Summed_later_delays_saturate_instead_of_overflowing()
    {
        var schedule = new RetrySchedule(70, TimeSpan.FromDays(1), RetryBackoff.Exponential);
        Assert.EndsWith(" + infinite (63 more delays) = infinite", schedule.DescribeWorstCase(TimeSpan.Zero), StringComparison.Ordinal);
    }

    [Fact]
    public void A_schedule_describes_itself_as_a_plan_would()
    {
        Assert.Equal("3 attempts, exponential delay 1 s (at most 3 s)", new RetrySchedule(3, TimeSpan.FromSeconds(1), RetryBackoff.Exponential, TimeSpan.FromSeconds(3)).ToString());
        Assert.Equal("2 attempts, constant delay 500 ms", new RetrySchedule(2, TimeSpan.FromMilliseconds(500)).ToString());
    }

    [Fact]
    public void Saturating_arithmetic_clamps_negatives_to_zero_and_overflow_to_the_maximum()
    {
        Assert.Equal(3, Saturating.Add(-5, 3));
        Assert.Equal(5, Saturating.Add(5, -3));
        Assert.Equal(long.MaxValue, Saturating.Add(long.MaxValue, 1));
        Assert.Equal(long.MaxValue, Saturating.Add(long.MaxValue - 1, 1));
        Assert.Equal(long.MaxValue - 1, Saturating.Add(long.MaxValue - 2, 1));

        Assert.Equal(0, Saturating.Multiply(-5, 3));
        Assert.Equal(0, Saturating.Multiply(5, -3));
        Assert.Equal(0, Saturating.Multiply(0, 3));
        Assert.Equal(0, Saturating.Multiply(5, 0));
        Assert.Equal(15, Saturating.Multiply(5, 3));
        Assert.Equal(long.MaxValue - 1, Saturating.Multiply(long.MaxValue / 2, 2));
        Assert.Equal(long.MaxValue, Saturating.Multiply((long.MaxValue / 2) + 1, 2));
    }
}
