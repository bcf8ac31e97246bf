namespace TimeoutBudget.Tests;

public sealed class DurationTextTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("10m", 600_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData(" 30 s ", 30_000)]
    [InlineData("30S", 30_000)]
    [InlineData("00:01:30", 90_000)]
    [InlineData("01:00:00.250", 3_600_250)]
    [InlineData("0s", 0)]
    public void Parses_every_documented_form(string text, long expectedMilliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMilliseconds), DurationText.Parse(text));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("30", "no unit")]
    [InlineData("-5s", "negative")]
    [InlineData("5 parsecs", "unknown unit")]
    [InlineData("s", "start with a number")]
    [InlineData("1e9s", "unknown unit")]
    [InlineData("99999999999999999999s", "malformed")]
    [InlineData("366d", "unknown unit")]
    [InlineData("9000h", "too large")]
    [InlineData("00:61:00", "hh:mm:ss")]
    [InlineData("1:2", "hh:mm:ss")]
    [InlineData("NaN", "start with a number")]
    [InlineData("٣٠s", "start with a number")]
    [InlineData("1..5s", "malformed")]
    [InlineData("infinite", "start with a number")]
    public void Rejects_bad_text_with_a_message_quoting_it(string text, string expectedFragment)
    {
        var exception = Assert.Throws<FormatException>(() => DurationText.Parse(text));
        Assert.Contains(expectedFragment, exception.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains('"' + text[..Math.Min(text.Length, 40)], exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infinite_is_accepted_only_when_allowed()
    {
        Assert.Equal(Timeout.InfiniteTimeSpan, DurationText.Parse("none", allowInfinite: true));
        Assert.Equal(Timeout.InfiniteTimeSpan, DurationText.Parse("Infinite", allowInfinite: true));
        Assert.False(DurationText.TryParse("none", out _));
    }

    [Fact]
    public void Very_long_text_is_rejected_without_echoing_all_of_it()
    {
        var text = new string('9', 10_000) + "s";
        var exception = Assert.Throws<FormatException>(() => DurationText.Parse(text));
        Assert.True(exception.Message.Length < 300, exception.Message);
    }

    [Theory]
    [InlineData(500, "500 ms")]
    [InlineData(1_500, "1.5 s")]
    [InlineData(1_623_000, "1623 s")]
    [InlineData(63_250, "63.25 s")]
    [InlineData(0, "0 ms")]
    public void Formats_the_way_messages_quote_durations(long milliseconds, string expected)
    {
        Assert.Equal(expected, DurationText.Format(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [Fact]
    public void Formats_infinite_and_round_trips_the_compact_form()
    {
        Assert.Equal("infinite", DurationText.Format(Timeout.InfiniteTimeSpan));
        Assert.Equal("infinite", DurationText.Format(TimeSpan.MaxValue));
        foreach (var value in new[] { TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1.5), TimeSpan.FromMinutes(10) })
        {
            Assert.Equal(value, DurationText.Parse(DurationText.FormatCompact(value)));
        }
    }
}
