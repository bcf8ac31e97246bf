namespace TimeoutBudget.Tests;

/// <summary>Exact limits and wording of the duration notation (found untested by mutation testing).</summary>
public sealed class DurationTextMutationTests
{
    [Fact]
    public void Parse_rejects_null_naming_the_parameter()
    {
        var error = Assert.Throws<ArgumentNullException>(() => DurationText.Parse(null!));
        Assert.Equal("text", error.ParamName);
    }

    [Fact]
    public void TryParse_refuses_null_and_says_a_duration_is_required()
    {
        Assert.False(DurationText.TryParse(null, out var value));
        Assert.Equal(TimeSpan.Zero, value);
        Assert.False(DurationText.TryParse(null, allowInfinite: true, out _, out var error));
        Assert.Equal("A duration is required but none was given.", error);
    }

    [Fact]
    public void TryParse_returns_the_value_and_no_error_for_valid_text()
    {
        Assert.True(DurationText.TryParse("250ms", out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(250), value);
        Assert.True(DurationText.TryParse("2s", allowInfinite: false, out value, out var error));
        Assert.Equal(TimeSpan.FromSeconds(2), value);
        Assert.Equal(string.Empty, error);
        Assert.True(DurationText.TryParse("none", allowInfinite: true, out value, out error));
        Assert.Equal(Timeout.InfiniteTimeSpan, value);
        Assert.Equal(string.Empty, error);
    }

    [Fact]
    public void Empty_text_gets_examples_of_valid_durations()
    {
        var error = Assert.Throws<FormatException>(() => DurationText.Parse("   "));
        Assert.Equal("\"   \" is not a duration: it is empty. Write one such as \"500ms\", \"30s\", \"10m\", \"1h\" or \"00:01:30\".", error.Message);
    }

    [Fact]
    public void Text_of_exactly_64_characters_is_read_and_65_is_refused_as_too_long()
    {
        var sixtyFour = "1" + new string(' ', 62) + "s";
        Assert.Equal(TimeSpan.FromSeconds(1), DurationText.Parse(sixtyFour));

        var sixtyFive = "1" + new string(' ', 63) + "s";
        var error = Assert.Throws<FormatException>(() => DurationText.Parse(sixtyFive));
        Assert.EndsWith("is not a duration: it is longer than 64 characters.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_text_is_refused_as_negative()
    {
        var error = Assert.Throws<FormatException>(() => DurationText.Parse("-1s", allowInfinite: true));
        Assert.Equal("\"-1s\" is not a valid duration: it is negative.", error.Message);
    }

    [Fact]
    public void A_leading_colon_is_read_as_a_malformed_clock_value()
    {
        var error = Assert.Throws<FormatException>(() => DurationText.Parse(":01:30"));
        Assert.Equal("\":01:30\" is not a valid duration: expected hh:mm:ss with minutes and seconds below 60.", error.Message);
    }

    [Theory]
    [InlineData("02:03:04", 7_384_000)]
    [InlineData("00:59:59", 3_599_000)]
    [InlineData("00:00:59.999", 59_999)]
    [InlineData("100:00:00", 360_000_000)]
    [InlineData("00:00:09", 9_000)]
    public void Clock_values_add_hours_minutes_and_seconds(string text, long milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), DurationText.Parse(text));

    [Theory]
    [InlineData("00:60:00")]
    [InlineData("00:00:60")]
    [InlineData("00:1:30")]
    [InlineData("00:001:30")]
    [InlineData("00:01:3")]
    [InlineData("00:01:3.5")]
    [InlineData("00:01:.50")]
    [InlineData("x:01:30")]
    [InlineData("00:0x:30")]
    [InlineData("00:01:30:00")]
    [InlineData("00:01:3x")]
    [InlineData("1.5:00:00")]
    public void Clock_values_need_two_digit_minutes_and_seconds_below_60(string text)
    {
        var error = Assert.Throws<FormatException>(() => DurationText.Parse(text));
        Assert.Contains("expected hh:mm:ss with minutes and seconds below 60", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Exactly_365_days_is_accepted_and_anything_longer_is_too_large()
    {
        Assert.Equal(DurationText.MaxValue, DurationText.Parse("8760h"));
        Assert.Equal(DurationText.MaxValue, DurationText.Parse("8760:00:00"));

        var error = Assert.Throws<FormatException>(() => DurationText.Parse("8760.000000001h"));
        Assert.Equal("\"8760.000000001h\" is too large: the longest duration accepted is 31536000 s.", error.Message);
    }

    [Theory]
    [InlineData("0.00000019s", 2)]
    [InlineData("0.00000011s", 1)]
    [InlineData("0.0000001s", 1)]
    public void Sub_tick_fractions_are_rounded_to_the_nearest_tick(string text, long ticks) =>
        Assert.Equal(TimeSpan.FromTicks(ticks), DurationText.Parse(text));

    [Theory]
    [InlineData("2ms", 2)]
    [InlineData("2s", 2_000)]
    [InlineData("2m", 120_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("2MS", 2)]
    [InlineData("9s", 9_000)]
    [InlineData("0.5m", 30_000)]
    public void Each_unit_scales_the_number(string text, long milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), DurationText.Parse(text));

    [Fact]
    public void A_number_without_a_unit_is_told_which_units_exist()
    {
        var error = Assert.Throws<FormatException>(() => DurationText.Parse("30"));
        Assert.Equal("\"30\" is not a valid duration: it has no unit; write ms, s, m or h after the number (\"30s\", not \"30\").", error.Message);
    }

    [Fact]
    public void An_unknown_unit_is_quoted()
    {
        var error = Assert.Throws<FormatException>(() => DurationText.Parse("5 days"));
        Assert.Equal("\"5 days\" is not a valid duration: unknown unit \"days\"; use ms, s, m or h.", error.Message);
    }

    [Theory]
    [InlineData("s")]
    [InlineData("/5s")]
    [InlineData("+5s")]
    public void Text_not_starting_with_a_digit_is_told_to_start_with_a_number(string text)
    {
        var error = Assert.Throws<FormatException>(() => DurationText.Parse(text));
        Assert.Equal($"\"{text}\" is not a valid duration: it must start with a number, as in \"30s\".", error.Message);
    }

    [Theory]
    [InlineData("1.s")]
    [InlineData(".5s")]
    [InlineData("1.5.5s")]
    [InlineData("1234567890123ms")]
    [InlineData("1.1234567890s")]
    public void Malformed_or_overlong_numbers_are_refused(string text)
    {
        var error = Assert.Throws<FormatException>(() => DurationText.Parse(text));
        Assert.Equal($"\"{text}\" is not a valid duration: the number is malformed or has too many digits.", error.Message);
    }

    [Fact]
    public void Twelve_integer_digits_and_nine_decimals_are_still_read_as_numbers()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), DurationText.Parse("000000000001s"));
        Assert.Equal(TimeSpan.FromMilliseconds(1_234_567_890), DurationText.Parse("1234567890ms"));
        Assert.Equal(TimeSpan.FromTicks(11_234_568), DurationText.Parse("1.123456789s"));
        var error = Assert.Throws<FormatException>(() => DurationText.Parse("999999999999ms"));
        Assert.Contains("too large", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-500, "-500 ms")]
    [InlineData(-1_500, "-1.5 s")]
    [InlineData(1_000, "1 s")]
    [InlineData(999, "999 ms")]
    public void Formats_negative_durations_with_a_sign_and_whole_seconds_in_seconds(long milliseconds, string expected) =>
        Assert.Equal(expected, DurationText.Format(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void Formats_the_smallest_timespan_without_overflowing()
    {
        Assert.Equal("-922337203685.478 s", DurationText.Format(TimeSpan.MinValue));
        Assert.Equal("0.001 ms", DurationText.Format(TimeSpan.FromTicks(10)));
    }

    [Theory]
    [InlineData(999, "999ms")]
    [InlineData(1_000, "1s")]
    [InlineData(1_500, "1.5s")]
    [InlineData(-5, "0ms")]
    public void The_compact_form_uses_ms_below_a_second_and_never_goes_negative(long milliseconds, string expected) =>
        Assert.Equal(expected, DurationText.FormatCompact(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void The_compact_form_of_infinite_reads_back_when_infinite_is_allowed()
    {
        Assert.Equal("infinite", DurationText.FormatCompact(Timeout.InfiniteTimeSpan));
        Assert.Equal(Timeout.InfiniteTimeSpan, DurationText.Parse(DurationText.FormatCompact(Timeout.InfiniteTimeSpan), allowInfinite: true));
    }

    [Fact]
    public void Quoting_shows_forty_characters_and_marks_the_cut()
    {
        var forty = new string('x', 40);
        Assert.Equal('"' + forty + '"', DurationText.Quote(forty));
        Assert.Equal('"' + forty + "…\"", DurationText.Quote(forty + "y"));
        Assert.Equal("\"\"", DurationText.Quote(string.Empty));
    }

    [Fact]
    public void Quoting_replaces_control_characters_so_messages_stay_on_one_line()
    {
        Assert.Equal("\"5?s?\"", DurationText.Quote("5\ns\u0007"));
        var error = Assert.Throws<FormatException>(() => DurationText.Parse("5\u0001s"));
        Assert.StartsWith("\"5?s\"", error.Message, StringComparison.Ordinal);
    }
}
