using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>Exact ranges, equality and wording of <see cref="BudgetMargin"/> and <see cref="BudgetOptions"/> (found untested by mutation testing).</summary>
public sealed class MarginAndOptionsMutationTests
{
    private static readonly TimeSpan JustOverMax = DurationText.MaxValue + TimeSpan.FromTicks(1);

    [Fact]
    public void A_fraction_of_zero_is_accepted_and_a_fraction_of_one_is_refused_with_the_rule()
    {
        var zero = BudgetMargin.Fraction(0);
        Assert.Equal(0, zero.FractionOfWindow);
        Assert.Equal(TimeSpan.Zero, zero.Floor);
        Assert.Equal(0.999, BudgetMargin.Fraction(0.999).FractionOfWindow);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => BudgetMargin.Fraction(1));
        Assert.Equal("fraction", error.ParamName);
        Assert.Equal(1d, error.ActualValue);
        Assert.Contains("A margin fraction must be at least 0 and below 1 (e.g. 0.05 for 5 %).", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fraction_keeps_its_floor_and_the_floor_must_be_in_range()
    {
        var margin = BudgetMargin.Fraction(0.1, TimeSpan.FromSeconds(1));
        Assert.Equal(0.1, margin.FractionOfWindow);
        Assert.Equal(TimeSpan.FromSeconds(1), margin.Floor);
        Assert.Equal(DurationText.MaxValue, BudgetMargin.Fraction(0.1, DurationText.MaxValue).Floor);

        foreach (var floor in new[] { TimeSpan.FromTicks(-1), JustOverMax })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => BudgetMargin.Fraction(0.1, floor));
            Assert.Equal("floor", error.ParamName);
            Assert.Equal(floor, error.ActualValue);
            Assert.Contains("A margin must be zero or positive and at most 365 days.", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_absolute_margin_from_zero_to_365_days_is_accepted_and_outside_it_refused_naming_the_margin()
    {
        Assert.Equal(TimeSpan.Zero, BudgetMargin.Absolute(TimeSpan.Zero).Floor);
        Assert.Equal(0, BudgetMargin.Absolute(TimeSpan.FromSeconds(2)).FractionOfWindow);
        Assert.Equal(DurationText.MaxValue, BudgetMargin.Absolute(DurationText.MaxValue).Floor);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => BudgetMargin.Absolute(JustOverMax));
        Assert.Equal("margin", error.ParamName);
        Assert.Contains("at most 365 days", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_obsolete_reuse_setting_keeps_the_default_it_shipped_with()
    {
        // Kept for source and binary compatibility only: code that reads it sees what it always saw.
#pragma warning disable CS0618
        Assert.True(new BudgetOptions().ReuseTokenSources);
        Assert.False(new BudgetOptions { ReuseTokenSources = false }.ReuseTokenSources);
#pragma warning restore CS0618
    }

    [Fact]
    public void None_keeps_nothing_back()
    {
        Assert.Equal(0, BudgetMargin.None.FractionOfWindow);
        Assert.Equal(TimeSpan.Zero, BudgetMargin.None.Floor);
        Assert.Equal(TimeSpan.Zero, BudgetMargin.None.For(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromMilliseconds(10), BudgetMargin.DefaultFloor);
        Assert.Equal(0.05, BudgetMargin.Default.FractionOfWindow);
    }

    [Fact]
    public void For_takes_the_larger_of_fraction_and_floor_and_never_more_than_the_window()
    {
        var margin = BudgetMargin.Fraction(0.1, TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(2), margin.For(TimeSpan.FromSeconds(20)));
        Assert.Equal(TimeSpan.FromSeconds(1), margin.For(TimeSpan.FromSeconds(5)));
        Assert.Equal(TimeSpan.FromMilliseconds(500), margin.For(TimeSpan.FromMilliseconds(500)));
        Assert.Equal(TimeSpan.FromTicks(1), BudgetMargin.Absolute(TimeSpan.FromSeconds(1)).For(TimeSpan.FromTicks(1)));
        Assert.Equal(TimeSpan.FromSeconds(1), BudgetMargin.Absolute(TimeSpan.FromSeconds(1)).For(TimeSpan.FromSeconds(100)));
    }

    [Fact]
    public void A_fraction_without_a_floor_is_written_as_a_bare_percentage()
    {
        Assert.Equal("12.5%", BudgetMargin.Fraction(0.125).ToString());
        Assert.Equal("5% (at least 1 ms)", BudgetMargin.Fraction(0.05, TimeSpan.FromMilliseconds(1)).ToString());
        Assert.Equal("0 ms", BudgetMargin.None.ToString());
    }

    [Fact]
    public void Parse_rejects_null_naming_the_parameter()
    {
        var error = Assert.Throws<ArgumentNullException>(() => BudgetMargin.Parse(null!));
        Assert.Equal("text", error.ParamName);
    }

    [Theory]
    [InlineData(" 5 % ", 0.05)]
    [InlineData("0%", 0)]
    [InlineData("99.99%", 0.9999)]
    [InlineData("0.0000000001%", 0.000000000001)]
    public void Percentages_below_100_are_read_with_the_default_floor(string text, double fraction)
    {
        var margin = BudgetMargin.Parse(text);
        Assert.Equal(fraction, margin.FractionOfWindow, 15);
        Assert.Equal(BudgetMargin.DefaultFloor, margin.Floor);
    }

    [Theory]
    [InlineData("+5%")]
    [InlineData("0.00000000001%")]
    [InlineData("100%")]
    [InlineData("5 5%")]
    [InlineData(" %")]
    public void Bad_percentages_are_refused_with_the_rule(string text)
    {
        var error = Assert.Throws<FormatException>(() => BudgetMargin.Parse(text));
        Assert.Equal(
            $"\"{text}\" is not a valid margin: write a percentage from 0% to below 100%, or a duration such as \"2s\".",
            error.Message);
    }

    [Fact]
    public void A_bad_duration_margin_says_what_a_margin_may_be()
    {
        var error = Assert.Throws<FormatException>(() => BudgetMargin.Parse("2 parsecs"));
        Assert.Equal(
            "\"2 parsecs\" is not a valid duration: unknown unit \"parsecs\"; use ms, s, m or h. A margin is a percentage such as \"5%\" or a duration such as \"2s\".",
            error.Message);
    }

    [Fact]
    public void TryParse_reports_no_error_on_success()
    {
        Assert.True(BudgetMargin.TryParse("5%", out var fraction, out var error));
        Assert.Equal(string.Empty, error);
        Assert.Equal(BudgetMargin.Default, fraction);
        Assert.True(BudgetMargin.TryParse(" 2s ", out var absolute, out error));
        Assert.Equal(string.Empty, error);
        Assert.Equal(BudgetMargin.Absolute(TimeSpan.FromSeconds(2)), absolute);
    }

    [Fact]
    public void Margins_are_equal_only_when_fraction_and_floor_both_match()
    {
        var margin = BudgetMargin.Fraction(0.05, TimeSpan.FromMilliseconds(10));
        Assert.True(margin.Equals(BudgetMargin.Default));
        Assert.True(margin.Equals((object)BudgetMargin.Default));
        Assert.Equal(BudgetMargin.Default.GetHashCode(), margin.GetHashCode());

        Assert.False(margin.Equals(BudgetMargin.Fraction(0.05, TimeSpan.FromMilliseconds(11))));
        Assert.False(margin.Equals(BudgetMargin.Fraction(0.06, TimeSpan.FromMilliseconds(10))));
        Assert.False(margin.Equals((BudgetMargin?)null));
        Assert.False(margin.Equals((object?)null));
        Assert.False(margin.Equals("5%"));
        Assert.Equal(BudgetMargin.Absolute(TimeSpan.FromMilliseconds(10)), BudgetMargin.Fraction(0, TimeSpan.FromMilliseconds(10)));
    }

    [Fact]
    public void A_copy_made_with_with_keeps_every_setting()
    {
        var time = new FakeTimeProvider();
        var monitor = new BudgetMonitor(time);
        Action<BudgetMisalignment> onMisaligned = _ => { };
        Action<BudgetInversion> onInverted = _ => { };
        var original = new BudgetOptions
        {
            TimeProvider = time,
            Mode = BudgetMode.Strict,
            Margin = BudgetMargin.None,
            Reserve = TimeSpan.FromSeconds(1),
            MaxTimeout = TimeSpan.FromMinutes(5),
            Monitor = monitor,
            LoggerFactory = NullLoggerFactory.Instance,
            OnMisaligned = onMisaligned,
            OnInverted = onInverted,
        };

        var copy = original with { };

        Assert.Same(time, copy.TimeProvider);
        Assert.Equal(BudgetMode.Strict, copy.Mode);
        Assert.Same(BudgetMargin.None, copy.Margin);
        Assert.Equal(TimeSpan.FromSeconds(1), copy.Reserve);
        Assert.Equal(TimeSpan.FromMinutes(5), copy.MaxTimeout);
        Assert.Same(monitor, copy.Monitor);
        Assert.Same(NullLoggerFactory.Instance, copy.LoggerFactory);
        Assert.Same(onMisaligned, copy.OnMisaligned);
        Assert.Same(onInverted, copy.OnInverted);
    }

    [Fact]
    public void A_copy_of_validated_options_is_validated_afresh()
    {
        var valid = new BudgetOptions { TimeProvider = new FakeTimeProvider() };
        valid.EnsureValid();
        var invalid = valid with { MaxTimeout = TimeSpan.Zero };
        Assert.Throws<ArgumentException>(invalid.EnsureValid);
    }

    [Fact]
    public void The_logger_is_created_once_with_the_library_category_and_only_when_a_factory_is_given()
    {
        Assert.Null(new BudgetOptions().Logger);

        var factory = new CountingLoggerFactory();
        var options = new BudgetOptions { LoggerFactory = factory };
        var logger = options.Logger;
        Assert.NotNull(logger);
        Assert.Same(logger, options.Logger);
        Assert.Equal(["TimeoutBudget"], factory.Categories);

        var copy = options with { LoggerFactory = new CountingLoggerFactory() };
        Assert.NotSame(logger, copy.Logger);
    }

    [Fact]
    public void Every_options_on_one_clock_share_its_deadline_scheduler()
    {
        var clock = new FakeTimeProvider();
        var options = new BudgetOptions { TimeProvider = clock };
        Assert.Same(options.Scheduler, options.Scheduler);
        Assert.Same(options.Scheduler, (options with { Margin = BudgetMargin.None }).Scheduler);
        Assert.NotSame(options.Scheduler, new BudgetOptions { TimeProvider = new FakeTimeProvider() }.Scheduler);
    }

    [Fact]
    public void MaxTimeout_from_one_millisecond_to_49_days_is_accepted()
    {
        new BudgetOptions { MaxTimeout = TimeSpan.FromMilliseconds(1) }.EnsureValid();
        new BudgetOptions { MaxTimeout = BudgetOptions.MaxTimeoutLimit }.EnsureValid();
        new BudgetOptions { Reserve = TimeSpan.FromHours(23), MaxTimeout = TimeSpan.FromDays(1) }.EnsureValid();
        Assert.Equal(TimeSpan.FromDays(49), BudgetOptions.MaxTimeoutLimit);
        Assert.Equal(TimeSpan.FromDays(1), new BudgetOptions().MaxTimeout);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(9_999L)]
    [InlineData(42_336_000_000_001L)]
    public void MaxTimeout_outside_the_range_is_refused_naming_the_options_and_the_setting(long ticks)
    {
        var options = new BudgetOptions { MaxTimeout = TimeSpan.FromTicks(ticks) };
        var error = Assert.Throws<ArgumentException>(options.EnsureValid);
        Assert.Equal("options", error.ParamName);
        Assert.StartsWith("Invalid BudgetOptions: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_invalid_setting_is_named()
    {
        Assert.Contains("Mode", Assert.Throws<ArgumentException>(new BudgetOptions { Mode = (BudgetMode)7 }.EnsureValid).Message, StringComparison.Ordinal);
        Assert.Contains("Margin", Assert.Throws<ArgumentException>(new BudgetOptions { Margin = null! }.EnsureValid).Message, StringComparison.Ordinal);
        Assert.Contains("TimeProvider", Assert.Throws<ArgumentException>(new BudgetOptions { TimeProvider = null! }.EnsureValid).Message, StringComparison.Ordinal);
        Assert.Contains("Reserve", Assert.Throws<ArgumentException>(new BudgetOptions { Reserve = TimeSpan.FromTicks(-1) }.EnsureValid).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Several_invalid_settings_are_listed_as_separate_sentences()
    {
        var error = Assert.Throws<ArgumentException>(new BudgetOptions { TimeProvider = null!, Margin = null! }.EnsureValid);
        Assert.Contains("The TimeProvider field is required.", error.Message, StringComparison.Ordinal);
        Assert.Contains("The Margin field is required.", error.Message, StringComparison.Ordinal);
        Assert.Contains("required. The ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reserve_as_long_as_MaxTimeout_is_refused_quoting_both()
    {
        var options = new BudgetOptions { Reserve = TimeSpan.FromSeconds(1), MaxTimeout = TimeSpan.FromSeconds(1) };
        var error = Assert.Throws<ArgumentException>(options.EnsureValid);
        Assert.Equal("options", error.ParamName);
        Assert.StartsWith("Invalid BudgetOptions: Reserve (1 s) must be shorter than MaxTimeout (1 s).", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validation_happens_when_a_budget_starts()
    {
        var options = new BudgetOptions { TimeProvider = new FakeTimeProvider(), Reserve = TimeSpan.FromSeconds(2), MaxTimeout = TimeSpan.FromSeconds(2) };
        var error = Assert.Throws<ArgumentException>(() => Budget.Start("api", TimeSpan.FromSeconds(1), options));
        Assert.Contains("must be shorter than MaxTimeout", error.Message, StringComparison.Ordinal);
        Assert.Null(Budget.Current);
    }

    private sealed class CountingLoggerFactory : ILoggerFactory
    {
        public List<string> Categories { get; } = [];

        public ILogger CreateLogger(string categoryName)
        {
            Categories.Add(categoryName);
            return new SilentLogger();
        }

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }

    private sealed class SilentLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => false;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }
    }
}
