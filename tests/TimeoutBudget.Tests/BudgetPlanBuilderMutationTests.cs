namespace TimeoutBudget.Tests;

/// <summary>
/// The code-first plan API (<see cref="BudgetPlanBuilder"/>), the nodes it builds and <see cref="BudgetViolation"/>:
/// argument guards with the right parameter names, exact limits, and what each node reports
/// (found untested by mutation testing).
/// </summary>
public sealed class BudgetPlanBuilderMutationTests
{
    private static readonly TimeSpan OneTick = TimeSpan.FromTicks(1);

    [Theory]
    [InlineData(null, "A layer name must not be empty.")]
    [InlineData("", "A layer name must not be empty.")]
    [InlineData(" \t", "A layer name must not be empty.")]
    [InlineData("a/b", "The layer name \"a/b\" contains '/' or a control character; '/' separates layers in a path.")]
    [InlineData("a\u0007", "The layer name \"a?\" contains '/' or a control character; '/' separates layers in a path.")]
    public void Create_rejects_an_invalid_root_name_saying_why(string? layer, string message)
    {
        var exception = Assert.Throws<ArgumentException>(() => BudgetPlan.Create(layer!, TimeSpan.FromSeconds(1)));
        Assert.Equal("layer", exception.ParamName);
        Assert.Equal($"{message} (Parameter 'layer')", exception.Message);
    }

    [Fact]
    public void Create_accepts_a_name_of_the_maximum_length_and_rejects_a_longer_one()
    {
        var longest = new string('n', BudgetPlan.MaxLayerNameLength);
        Assert.Equal(longest, BudgetPlan.Create(longest, TimeSpan.FromSeconds(1)).Root.Layer);

        var exception = Assert.Throws<ArgumentException>(() => BudgetPlan.Create(longest + "n", TimeSpan.FromSeconds(1)));
        Assert.Equal("layer", exception.ParamName);
        Assert.Contains("is longer than 128 characters.", exception.Message, StringComparison.Ordinal);
    }

    public static TheoryData<TimeSpan> AcceptedTimeouts => new() { TimeSpan.Zero, OneTick, DurationText.MaxValue, Timeout.InfiniteTimeSpan };

    [Theory]
    [MemberData(nameof(AcceptedTimeouts))]
    public void Create_accepts_zero_the_maximum_and_infinite_timeouts(TimeSpan timeout)
    {
        var plan = BudgetPlan.Create("a", timeout, a => a.Child("b", timeout));
        Assert.Equal(timeout, plan.Root.Timeout);
        Assert.Equal(timeout, plan.Find("a/b")!.Timeout);
        Assert.Equal(timeout == Timeout.InfiniteTimeSpan, plan.Root.IsUnbounded);
    }

    public static TheoryData<TimeSpan> RejectedTimeouts => new() { -OneTick, TimeSpan.FromMilliseconds(-2), DurationText.MaxValue + OneTick };

    [Theory]
    [MemberData(nameof(RejectedTimeouts))]
    public void Create_and_Child_reject_a_negative_or_too_long_timeout_naming_the_layer(TimeSpan timeout)
    {
        var root = Assert.Throws<ArgumentOutOfRangeException>(() => BudgetPlan.Create("api", timeout));
        Assert.Equal("timeout", root.ParamName);
        Assert.Equal(timeout, root.ActualValue);
        Assert.StartsWith("The timeout of api must be zero or positive and at most 365 days, or Timeout.InfiniteTimeSpan for a layer with none.", root.Message, StringComparison.Ordinal);

        var child = Assert.Throws<ArgumentOutOfRangeException>(() => BudgetPlan.Create("api", TimeSpan.FromSeconds(1), a => a.Child("db", timeout)));
        Assert.Equal("timeout", child.ParamName);
        Assert.Contains("The timeout of db must be", child.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithMargin_and_WithRetry_reject_null_naming_the_parameter()
    {
        Assert.Equal("margin", Assert.Throws<ArgumentNullException>(() => BudgetPlan.Create("a", TimeSpan.FromSeconds(1), a => a.WithMargin(null!))).ParamName);
        Assert.Equal("retry", Assert.Throws<ArgumentNullException>(() => BudgetPlan.Create("a", TimeSpan.FromSeconds(1), a => a.WithRetry(null!))).ParamName);
    }

    public static TheoryData<TimeSpan> AcceptedReserves => new() { TimeSpan.Zero, OneTick, DurationText.MaxValue };

    [Theory]
    [MemberData(nameof(AcceptedReserves))]
    public void WithReserve_accepts_zero_up_to_the_maximum(TimeSpan reserve)
    {
        var plan = BudgetPlan.Create("a", Timeout.InfiniteTimeSpan, a => a.WithReserve(reserve));
        Assert.Equal(reserve, plan.Root.Reserve);
    }

    public static TheoryData<TimeSpan> RejectedReserves => new() { -OneTick, DurationText.MaxValue + OneTick, Timeout.InfiniteTimeSpan };

    [Theory]
    [MemberData(nameof(RejectedReserves))]
    public void WithReserve_rejects_a_negative_or_too_long_reserve(TimeSpan reserve)
    {
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => BudgetPlan.Create("a", TimeSpan.FromSeconds(1), a => a.WithReserve(reserve)));
        Assert.Equal("reserve", exception.ParamName);
        Assert.Equal(reserve, exception.ActualValue);
        Assert.StartsWith("A reserve must be zero or positive and at most 365 days.", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Child_rejects_a_second_sibling_of_the_same_name_naming_the_parent()
    {
        var exception = Assert.Throws<ArgumentException>(() => BudgetPlan.Create("api", TimeSpan.FromSeconds(10), a => a
            .Child("db", TimeSpan.FromSeconds(1))
            .Child("cache", TimeSpan.FromSeconds(1))
            .Child("db", TimeSpan.FromSeconds(2))));
        Assert.Equal("layer", exception.ParamName);
        Assert.Equal("api already has a child named \"db\"; sibling names must differ so paths are unique. (Parameter 'layer')", exception.Message);
    }

    [Fact]
    public void Child_rejects_an_invalid_name_and_allows_names_that_differ_only_in_case()
    {
        Assert.Equal("layer", Assert.Throws<ArgumentException>(() => BudgetPlan.Create("a", TimeSpan.FromSeconds(10), a => a.Child("x/y", TimeSpan.FromSeconds(1)))).ParamName);

        var plan = BudgetPlan.Create("a", TimeSpan.FromSeconds(10), a => a.Child("db", TimeSpan.FromSeconds(1)).Child("DB", TimeSpan.FromSeconds(2)));
        Assert.Equal(["db", "DB"], plan.Root.Children.Select(c => c.Layer));
        Assert.Equal(TimeSpan.FromSeconds(2), plan.Root.FindChild("DB")!.Timeout);
    }

    [Fact]
    public void Builder_carries_margin_reserve_retry_and_nesting_into_the_nodes()
    {
        var retry = new RetrySchedule(3, TimeSpan.FromSeconds(1));
        var margin = BudgetMargin.Absolute(TimeSpan.FromSeconds(2));
        var plan = BudgetPlan.Create("a", TimeSpan.FromSeconds(60), a => a
            .WithMargin(margin)
            .WithReserve(TimeSpan.FromSeconds(5))
            .Child("b", TimeSpan.FromSeconds(10), b => b.WithRetry(retry).Child("c", TimeSpan.FromSeconds(2))));

        var root = plan.Root;
        Assert.Same(margin, root.Margin);
        Assert.Same(margin, root.EffectiveMargin);
        Assert.Equal(TimeSpan.FromSeconds(5), root.Reserve);
        Assert.Null(root.Retry);
        Assert.Null(root.Parent);

        var b = Assert.Single(root.Children);
        Assert.Same(retry, b.Retry);
        Assert.Same(root, b.Parent);
        Assert.Null(b.Margin);
        Assert.Same(BudgetMargin.Default, b.EffectiveMargin);
        Assert.Equal(TimeSpan.Zero, b.Reserve);

        var c = Assert.Single(b.Children);
        Assert.Equal(("c", "a/b/c"), (c.Layer, c.Path));
        Assert.Same(b, c.Parent);
        Assert.Empty(c.Children);
    }

    [Fact]
    public void WorstCase_is_the_timeout_every_attempt_and_delay_or_infinite_for_an_unbounded_layer()
    {
        var plan = BudgetPlan.Create("a", Timeout.InfiniteTimeSpan, a => a
            .WithRetry(new RetrySchedule(3))
            .Child("single", TimeSpan.FromSeconds(10))
            .Child("retried", TimeSpan.FromSeconds(10), r => r.WithRetry(new RetrySchedule(3, TimeSpan.FromSeconds(1), RetryBackoff.Linear))));

        Assert.Equal(Timeout.InfiniteTimeSpan, plan.Root.WorstCase);
        Assert.Equal(TimeSpan.FromSeconds(10), plan.Find("a/single")!.WorstCase);
        Assert.Equal(TimeSpan.FromSeconds(30 + 1 + 2), plan.Find("a/retried")!.WorstCase);
    }

    [Fact]
    public void FindChild_matches_the_exact_name_only()
    {
        var root = BudgetPlan.Create("a", TimeSpan.FromSeconds(10), a => a.Child("db", TimeSpan.FromSeconds(1)).Child("cache", TimeSpan.FromSeconds(1))).Root;
        Assert.Same(root.Children[1], root.FindChild("cache"));
        Assert.Null(root.FindChild("Cache"));
        Assert.Null(root.FindChild("cach"));
        Assert.Null(root.FindChild("a"));
    }

    [Fact]
    public void A_node_reads_as_its_path_and_timeout()
    {
        var plan = BudgetPlan.Create("a", TimeSpan.FromSeconds(10), a => a.Child("b", TimeSpan.FromMilliseconds(1500)));
        Assert.Equal("a/b 1.5 s", plan.Find("a/b")!.ToString());
    }

    [Fact]
    public void A_violation_keeps_its_path_message_and_position()
    {
        var violation = new BudgetViolation("api/db", "too long", 3, 7, 5);
        Assert.Equal(("api/db", "too long", 3, 7, 5), (violation.Path, violation.Message, violation.Line, violation.Column, violation.Length));

        var inCode = new BudgetViolation("api", "zero");
        Assert.Equal((0, 0, 0), (inCode.Line, inCode.Column, inCode.Length));
    }

    [Fact]
    public void A_violation_rejects_a_null_path_or_message_naming_the_parameter()
    {
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => new BudgetViolation(null!, "m")).ParamName);
        Assert.Equal("message", Assert.Throws<ArgumentNullException>(() => new BudgetViolation("p", null!)).ParamName);
    }

    [Fact]
    public void A_violation_shows_its_position_only_from_line_one_on()
    {
        Assert.Equal("api (line 1, column 2): m", new BudgetViolation("api", "m", 1, 2, 3).ToString());
        Assert.Equal("api: m", new BudgetViolation("api", "m", 0, 2, 3).ToString());
    }
}
