namespace TimeoutBudget.Http.Tests;

public sealed class GrpcTimeoutFormatTests
{
    [Theory]
    [InlineData("1H", 36_000_000_000L)]
    [InlineData("2M", 1_200_000_000L)]
    [InlineData("30S", 300_000_000L)]
    [InlineData("1500m", 15_000_000L)]
    [InlineData("250u", 2_500L)]
    [InlineData("999n", 9L)]
    [InlineData("0m", 0L)]
    [InlineData("00000001S", 10_000_000L)]
    [InlineData("99999999H", 99_999_999L * 36_000_000_000L)]
    public void Parses_every_unit_exactly(string text, long ticks)
    {
        Assert.True(GrpcTimeoutFormat.TryParse(text, out var timeout));
        Assert.Equal(TimeSpan.FromTicks(ticks), timeout);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("100")]
    [InlineData("123456789m")] // nine digits
    [InlineData("1s")] // unknown unit
    [InlineData("1h")]
    [InlineData("1x")]
    [InlineData("-1S")]
    [InlineData("+1S")]
    [InlineData(" 1S")]
    [InlineData("1 S")]
    [InlineData("1S ")]
    [InlineData("1.5S")]
    [InlineData("1e3m")]
    [InlineData("١S")] // a non-ASCII digit
    [InlineData("1SS")]
    public void Rejects_anything_outside_the_wire_format(string text)
    {
        Assert.False(GrpcTimeoutFormat.TryParse(text, out var timeout));
        Assert.Equal(TimeSpan.Zero, timeout);
    }

    [Theory]
    [InlineData(0L, "0n")]
    [InlineData(-5L, "0n")]
    [InlineData(1L, "100n")]
    [InlineData(999_999L, "99999900n")] // 99.9999 ms still fits in nanoseconds
    [InlineData(1_000_000L, "100000u")] // 100 ms: nanoseconds would need nine digits
    [InlineData(999_999_999L, "99999999u")]
    [InlineData(1_000_000_009L, "100000m")] // rounds the 0.9 µs down
    [InlineData(15_000_000L, "1500000u")] // 1.5 s
    public void Formats_in_the_most_precise_unit_that_fits(long ticks, string expected) =>
        Assert.Equal(expected, GrpcTimeoutFormat.Format(TimeSpan.FromTicks(ticks)));

    [Fact]
    public void Formats_the_largest_durations_in_hours_and_caps_them()
    {
        Assert.Equal("99999999H", GrpcTimeoutFormat.Format(TimeSpan.MaxValue));
        Assert.Equal("1666666M", GrpcTimeoutFormat.Format(TimeSpan.FromMinutes(1_666_666.9)));
    }

    [Fact]
    public void A_written_timeout_is_never_longer_than_the_real_one_and_loses_at_most_one_unit()
    {
        var random = new Random(20261123);
        for (var i = 0; i < 20_000; i++)
        {
            // Spread over every magnitude from 100 ns to years.
            var ticks = (long)Math.Pow(10, random.NextDouble() * 17.5);
            var real = TimeSpan.FromTicks(ticks);
            var text = GrpcTimeoutFormat.Format(real);
            Assert.True(text.Length <= 9, text);
            Assert.True(GrpcTimeoutFormat.TryParse(text, out var written), text);
            Assert.True(written <= real, $"{text} is longer than {real}");
            var unit = text[^1] switch
            {
                'n' => TimeSpan.FromTicks(1),
                'u' => TimeSpan.FromTicks(10),
                'm' => TimeSpan.FromMilliseconds(1),
                'S' => TimeSpan.FromSeconds(1),
                'M' => TimeSpan.FromMinutes(1),
                _ => TimeSpan.FromHours(1),
            };
            Assert.True(real - written < unit, $"{text} loses more than one unit of {real}");
        }
    }
}
