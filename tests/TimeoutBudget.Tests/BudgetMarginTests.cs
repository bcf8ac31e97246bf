namespace TimeoutBudget.Tests;

public sealed class BudgetMarginTests
{
    [Fact]
    public void Default_is_five_percent_with_a_ten_millisecond_floor()
    {
        Assert.Equal(TimeSpan.FromSeconds(9), BudgetMargin.Default.For(TimeSpan.FromSeconds(180)));
        Assert.Equal(TimeSpan.FromMilliseconds(10), BudgetMargin.Default.For(TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public void Margin_never_exceeds_the_window_and_is_zero_for_an_empty_one()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(4), BudgetMargin.Default.For(TimeSpan.FromMilliseconds(4)));
        Assert.Equal(TimeSpan.Zero, BudgetMargin.Absolute(TimeSpan.FromSeconds(2)).For(TimeSpan.Zero));
        Assert.Equal(TimeSpan.Zero, BudgetMargin.Default.For(TimeSpan.FromSeconds(-1)));
    }

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.1)]
    [InlineData(0.15)]
    [InlineData(0.3)]
    [InlineData(0.125)]
    [InlineData(0.999)]
    [InlineData(0.0000001)]
    [InlineData(0.123456789012345)]

    // Times 2^32 its fractional part is within 2^-32 of 1: its lower 32 bits round up to 2^32 and carry into the upper half.
    [InlineData(0.100008086534217)]
    public void The_fraction_is_the_decimal_fraction_of_the_window_rounded_down(double fraction)
    {
        var margin = BudgetMargin.Fraction(fraction);
        var asWritten = (decimal)fraction;

        // Windows on both sides of 2^32 ticks (where a 64-bit product splits into halves) up to 49 days in nanoseconds.
        long[] windows = [1, 7, 20, 100, 99_999_999, 100_000_000, 1_000_000_000, 4_294_967_295, 4_294_967_297, 6_000_000_000,
            36_000_000_000, 42_336_000_000_000, 4_233_600_000_000_000];
        foreach (var window in windows)
        {
            var expected = (long)decimal.Floor(window * asWritten);
            Assert.Equal(expected, margin.For(window, floor: 0));
            Assert.Equal(TimeSpan.FromTicks(expected), margin.For(TimeSpan.FromTicks(window)));
        }
    }

    [Theory]
    [InlineData(0.29, 100, 29)]
    [InlineData(0.57, 100, 57)]
    [InlineData(0.58, 50, 29)]
    public void A_percentage_of_a_window_is_not_a_tick_short_where_the_double_product_falls_below_a_whole_tick(double fraction, long window, long expected)
    {
        // (long)(100 * 0.29) is 28: the double nearest 0.29 is just below it, and so is the product.
        Assert.Equal(expected - 1, (long)(window * fraction));
        Assert.Equal(TimeSpan.FromTicks(expected), BudgetMargin.Fraction(fraction).For(TimeSpan.FromTicks(window)));
    }

    [Fact]
    public void Counted_in_any_unit_the_margin_keeps_its_floor_and_never_exceeds_the_window()
    {
        // In nanoseconds (a clock's timestamp ticks): 5 % of 1 s, a 10 ms floor, a window shorter than the floor.
        Assert.Equal(50_000_000, BudgetMargin.Default.For(1_000_000_000, floor: 10_000_000));
        Assert.Equal(10_000_000, BudgetMargin.Default.For(100_000_000, floor: 10_000_000));
        Assert.Equal(4_000_000, BudgetMargin.Default.For(4_000_000, floor: 10_000_000));
        Assert.Equal(0, BudgetMargin.Default.For(0, floor: 10_000_000));
        Assert.Equal(0, BudgetMargin.Default.For(-5, floor: 10_000_000));
    }

    [Fact]
    public void A_fraction_whose_fifteen_digits_round_to_one_keeps_all_of_the_window_but_its_last_tick()
    {
        var margin = BudgetMargin.Fraction(0.9999999999999999);
        Assert.Equal(1m, (decimal)margin.FractionOfWindow);
        Assert.Equal(TimeSpan.FromTicks(99_999_999), margin.For(TimeSpan.FromTicks(100_000_000)));
        Assert.Equal(TimeSpan.Zero, margin.For(TimeSpan.FromTicks(1)));
    }

    [Theory]
    [InlineData("5%", 0.05, 10)]
    [InlineData("12.5%", 0.125, 10)]
    [InlineData("2s", 0, 2000)]
    [InlineData("250ms", 0, 250)]
    public void Parses_percentages_and_durations(string text, double fraction, long floorMilliseconds)
    {
        var margin = BudgetMargin.Parse(text);
        Assert.Equal(fraction, margin.FractionOfWindow, 6);
        Assert.Equal(TimeSpan.FromMilliseconds(floorMilliseconds), margin.Floor);
    }

    [Theory]
    [InlineData("100%")]
    [InlineData("-5%")]
    [InlineData("%")]
    [InlineData("five percent")]
    [InlineData("-2s")]
    public void Rejects_bad_margins(string text)
    {
        var exception = Assert.Throws<FormatException>(() => BudgetMargin.Parse(text));
        Assert.Contains(text, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Factory_methods_reject_out_of_range_values()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BudgetMargin.Fraction(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => BudgetMargin.Fraction(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => BudgetMargin.Fraction(-0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => BudgetMargin.Absolute(TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => BudgetMargin.Absolute(TimeSpan.MaxValue));
    }

    [Fact]
    public void Describes_itself_as_a_plan_would()
    {
        Assert.Equal("5% (at least 10 ms)", BudgetMargin.Default.ToString());
        Assert.Equal("2 s", BudgetMargin.Absolute(TimeSpan.FromSeconds(2)).ToString());
        Assert.Equal(BudgetMargin.Parse("5%"), BudgetMargin.Default);
    }
}
