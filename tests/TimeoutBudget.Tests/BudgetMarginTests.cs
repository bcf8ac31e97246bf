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
