namespace TimeoutBudget.Tests;

/// <summary>
/// <see cref="BudgetPlan"/>'s reading, walking and validation on the exact boundaries and with the exact messages a user
/// acts on (found untested by mutation testing).
/// </summary>
public sealed class BudgetPlanMutationTests
{
    private const string DoesNotFit = "; inner timeouts must expire before the outer ones that contain them.";

    [Fact]
    public void Parse_rejects_null_naming_the_json_parameter()
    {
        var exception = Assert.Throws<ArgumentNullException>(() => BudgetPlan.Parse(null!));
        Assert.Equal("json", exception.ParamName);
    }

    [Fact]
    public void Nodes_lists_parents_before_children_and_siblings_in_declared_order()
    {
        var plan = BudgetPlan.Create("root", TimeSpan.FromSeconds(100), r => r
            .Child("a", TimeSpan.FromSeconds(50), a => a.Child("a1", TimeSpan.FromSeconds(10)).Child("a2", TimeSpan.FromSeconds(10)))
            .Child("b", TimeSpan.FromSeconds(50), b => b.Child("b1", TimeSpan.FromSeconds(10))));

        Assert.Equal(["root", "root/a", "root/a/a1", "root/a/a2", "root/b", "root/b/b1"], plan.Nodes.Select(n => n.Path));
    }

    [Fact]
    public void Find_follows_the_path_from_the_root_by_exact_name()
    {
        var plan = BudgetPlan.Create("root", TimeSpan.FromSeconds(100), r => r
            .Child("a", TimeSpan.FromSeconds(50), a => a.Child("a1", TimeSpan.FromSeconds(10)))
            .Child("b", TimeSpan.FromSeconds(50)));

        Assert.Same(plan.Root, plan.Find("root"));
        Assert.Equal("root/a/a1", plan.Find("root/a/a1")!.Path);
        Assert.Equal("root/b", plan.Find("root/b")!.Path);
        Assert.Null(plan.Find(""));
        Assert.Null(plan.Find(null!));
        Assert.Null(plan.Find("a"));
        Assert.Null(plan.Find("ROOT"));
        Assert.Null(plan.Find("root/A"));
        Assert.Null(plan.Find("root/b/a1"));
        Assert.Null(plan.Find("root/missing/a1"));
    }

    [Fact]
    public void Validate_says_a_root_without_a_timeout_is_unbounded_and_ignores_its_reserve()
    {
        const string json = """{ "layer": "run", "timeout": "none", "reserve": "5s" }""";
        var violation = Assert.Single(BudgetPlan.Parse(json).Validate());
        Assert.Equal("run", violation.Path);
        Assert.Equal("run has no timeout at all: nothing bounds the work under it, which can stay \"running\" forever. Give it a timeout.", violation.Message);
        Assert.Equal((1, json.IndexOf("\"none\"", StringComparison.Ordinal) + 1, 6), (violation.Line, violation.Column, violation.Length));
    }

    [Fact]
    public void Validate_reports_a_zero_root_timeout_once_even_with_no_reserve()
    {
        var violation = Assert.Single(BudgetPlan.Create("a", TimeSpan.Zero).Validate());
        Assert.Equal("a", violation.Path);
        Assert.Equal("a has a zero timeout: it expires before any work starts.", violation.Message);
        Assert.Equal((0, 0, 0), (violation.Line, violation.Column, violation.Length));
    }

    [Fact]
    public void Validate_reports_a_zero_child_timeout()
    {
        var violation = Assert.Single(BudgetPlan.Create("a", TimeSpan.FromSeconds(10), a => a.Child("b", TimeSpan.Zero)).Validate());
        Assert.Equal("a/b", violation.Path);
        Assert.Equal("b has a zero timeout: it expires before any work starts.", violation.Message);
    }

    [Fact]
    public void Validate_reports_a_reserve_equal_to_the_timeout_and_points_at_the_reserve()
    {
        const string json = """{ "layer": "workflow", "timeout": "40s", "reserve": "40.0s" }""";
        var violation = Assert.Single(BudgetPlan.Parse(json).Validate());
        Assert.Equal("workflow: reserve 40 s takes all of its 40 s, leaving no time for its children.", violation.Message);
        Assert.Equal((1, json.IndexOf("\"40.0s\"", StringComparison.Ordinal) + 1, 7), (violation.Line, violation.Column, violation.Length));
    }

    [Fact]
    public void Validate_reports_a_reserve_longer_than_the_timeout_and_accepts_one_just_shorter()
    {
        var longer = BudgetPlan.Create("w", TimeSpan.FromSeconds(40), w => w.WithReserve(TimeSpan.FromSeconds(50)));
        Assert.Equal("w: reserve 50 s takes all of its 40 s, leaving no time for its children.", Assert.Single(longer.Validate()).Message);

        var shorter = BudgetPlan.Create("w", TimeSpan.FromSeconds(40), w => w.WithReserve(TimeSpan.FromMilliseconds(39_999)));
        Assert.Empty(shorter.Validate());
    }

    [Fact]
    public void Validate_accepts_a_child_exactly_at_the_limit_and_rejects_one_a_millisecond_over()
    {
        // 100 s − 5% margin = 95 s.
        Assert.Empty(BudgetPlan.Create("a", TimeSpan.FromSeconds(100), a => a.Child("b", TimeSpan.FromSeconds(95))).Validate());

        var over = BudgetPlan.Create("a", TimeSpan.FromSeconds(100), a => a.Child("b", TimeSpan.FromMilliseconds(95_001)));
        var violation = Assert.Single(over.Validate());
        Assert.Equal("a/b", violation.Path);
        Assert.Equal("b: 95.001 s does not fit in a 100 s − margin 5 s" + DoesNotFit, violation.Message);
    }

    [Fact]
    public void Validate_rejects_a_child_that_fills_the_window_after_the_reserve_even_with_no_margin()
    {
        static BudgetPlan Plan(TimeSpan child) => BudgetPlan.Create("a", TimeSpan.FromSeconds(10), a => a
            .WithReserve(TimeSpan.FromSeconds(2))
            .WithMargin(BudgetMargin.None)
            .Child("b", child));

        Assert.Equal("b: 8 s does not fit in a 10 s − reserve 2 s − margin 0 ms" + DoesNotFit, Assert.Single(Plan(TimeSpan.FromSeconds(8)).Validate()).Message);
        Assert.Empty(Plan(TimeSpan.FromMilliseconds(7_999)).Validate());
    }

    [Fact]
    public void Validate_says_equal_is_not_before_only_when_the_child_equals_the_parent()
    {
        var equal = BudgetPlan.Create("a", TimeSpan.FromSeconds(10), a => a.WithMargin(BudgetMargin.None).Child("b", TimeSpan.FromSeconds(10)));
        Assert.Equal("b: 10 s does not fit in a 10 s − margin 0 ms (equal is not before)" + DoesNotFit, Assert.Single(equal.Validate()).Message);

        var longer = BudgetPlan.Create("a", TimeSpan.FromSeconds(10), a => a.WithMargin(BudgetMargin.None).Child("b", TimeSpan.FromSeconds(11)));
        Assert.Equal("b: 11 s does not fit in a 10 s − margin 0 ms" + DoesNotFit, Assert.Single(longer.Validate()).Message);
    }

    [Fact]
    public void Validate_writes_the_retry_arithmetic_only_for_more_than_one_attempt()
    {
        var single = BudgetPlan.Create("a", TimeSpan.FromSeconds(100), a => a.Child("b", TimeSpan.FromSeconds(200), b => b.WithRetry(new RetrySchedule(1))));
        Assert.Equal("b: 200 s does not fit in a 100 s − margin 5 s" + DoesNotFit, Assert.Single(single.Validate()).Message);

        var retried = BudgetPlan.Create("a", TimeSpan.FromSeconds(100), a => a.Child("b", TimeSpan.FromSeconds(48), b => b.WithRetry(new RetrySchedule(2, TimeSpan.FromSeconds(1)))));
        Assert.Equal("b: 2 attempts × 48 s + 1 s = 97 s does not fit in a 100 s − margin 5 s" + DoesNotFit, Assert.Single(retried.Validate()).Message);
    }

    [Fact]
    public void Validate_checks_a_grandchild_against_what_its_parent_really_gets_up_to_the_exact_limit()
    {
        // r 100 s lets p have 95 s; p keeps 5% of that, so q may have 90.25 s although p declares 100 s.
        static BudgetPlan Plan(TimeSpan q) => BudgetPlan.Create("r", TimeSpan.FromSeconds(100), r => r
            .Child("p", TimeSpan.FromSeconds(100), p => p.Child("q", q)));

        Assert.Equal(["r/p"], Plan(TimeSpan.FromMilliseconds(90_250)).Validate().Select(v => v.Path));

        var violations = Plan(TimeSpan.FromMilliseconds(90_260)).Validate();
        Assert.Equal(["r/p", "r/p/q"], violations.Select(v => v.Path));
        Assert.Equal(
            "q: 90.26 s fits in p 100 s as declared, but p itself gets only 95 s from the layers above it, and 95 s − margin 4.75 s = 90.25 s.",
            violations[1].Message);
    }

    [Fact]
    public void Validate_deducts_the_parents_reserve_from_what_it_really_gets()
    {
        var plan = BudgetPlan.Create("r", TimeSpan.FromSeconds(100), r => r
            .Child("p", TimeSpan.FromSeconds(100), p => p.WithReserve(TimeSpan.FromSeconds(5)).Child("q", TimeSpan.FromSeconds(86))));

        var violations = plan.Validate();
        Assert.Equal(["r/p", "r/p/q"], violations.Select(v => v.Path));
        Assert.Equal(
            "q: 86 s fits in p 100 s as declared, but p itself gets only 95 s from the layers above it, and 95 s − reserve 5 s − margin 4.5 s = 85.5 s.",
            violations[1].Message);
    }

    [Fact]
    public void Validate_carries_a_violating_layers_clamped_time_down_to_its_children()
    {
        // p really gets 95 s, so q (declared 100 s) really gets 90.25 s, and z's 90 s exceeds 90.25 s − 5%.
        var plan = BudgetPlan.Create("r", TimeSpan.FromSeconds(100), r => r
            .Child("p", TimeSpan.FromSeconds(100), p => p
                .Child("q", TimeSpan.FromSeconds(100), q => q.Child("z", TimeSpan.FromSeconds(90)))));

        var violations = plan.Validate();
        Assert.Equal(["r/p", "r/p/q", "r/p/q/z"], violations.Select(v => v.Path));
        Assert.StartsWith("z: 90 s fits in q 100 s as declared, but q itself gets only 90.25 s from the layers above it", violations[2].Message);
    }

    [Fact]
    public void Validate_carries_the_clamped_time_of_a_layer_that_fits_as_declared_down_to_its_children()
    {
        // p really gets 95 s, so q (96 s, fits p's declared 100 s) really gets 95 s too, which z's 95.5 s exceeds.
        var plan = BudgetPlan.Create("r", TimeSpan.FromSeconds(100), r => r
            .Child("p", TimeSpan.FromSeconds(100), p => p.WithMargin(BudgetMargin.None)
                .Child("q", TimeSpan.FromSeconds(96), q => q.WithMargin(BudgetMargin.None)
                    .Child("z", TimeSpan.FromMilliseconds(95_500)))));

        var violations = plan.Validate();
        Assert.Equal(["r/p", "r/p/q", "r/p/q/z"], violations.Select(v => v.Path));
        Assert.Equal("q: 96 s fits in p 100 s as declared, but p itself gets only 95 s from the layers above it, and 95 s − margin 0 ms = 95 s.", violations[1].Message);
        Assert.Equal("z: 95.5 s fits in q 96 s as declared, but q itself gets only 95 s from the layers above it, and 95 s − margin 0 ms = 95 s.", violations[2].Message);
    }

    [Fact]
    public void Validate_leaves_no_time_rather_than_negative_time_when_the_reserve_exceeds_what_the_parent_really_gets()
    {
        var plan = BudgetPlan.Create("r", TimeSpan.FromSeconds(100), r => r
            .Child("p", TimeSpan.FromSeconds(100), p => p.WithReserve(TimeSpan.FromSeconds(96)).Child("q", TimeSpan.FromSeconds(1))));

        var violations = plan.Validate();
        Assert.Equal(["r/p", "r/p/q"], violations.Select(v => v.Path));
        Assert.Equal(
            "q: 1 s fits in p 100 s as declared, but p itself gets only 95 s from the layers above it, and 95 s − reserve 96 s − margin 0 ms = 0 ms.",
            violations[1].Message);
    }

    [Fact]
    public void Validate_tells_an_unbounded_layer_under_an_unbounded_parent_what_the_bounded_ancestor_leaves_it()
    {
        var plan = BudgetPlan.Create("r", TimeSpan.FromSeconds(100), r => r
            .Child("p", Timeout.InfiniteTimeSpan, p => p.Child("q", Timeout.InfiniteTimeSpan)));

        var violations = plan.Validate();
        Assert.Equal(["r/p", "r/p/q"], violations.Select(v => v.Path));
        Assert.Equal("p has no timeout, so it can outlive r (100 s) and keep running after r gave up; give it a timeout of at most 95 s.", violations[0].Message);
        Assert.Equal("q has no timeout, so it can outlive p (95 s) and keep running after p gave up; give it a timeout of at most 90.25 s.", violations[1].Message);
    }

    [Fact]
    public void Validate_advises_an_unbounded_layer_from_its_parents_own_timeout_when_that_is_shorter_than_what_it_could_get()
    {
        var fitting = BudgetPlan.Create("r", TimeSpan.FromSeconds(100), r => r
            .Child("c", TimeSpan.FromSeconds(50), c => c.Child("g", Timeout.InfiniteTimeSpan)));
        Assert.Equal(
            "g has no timeout, so it can outlive c (50 s) and keep running after c gave up; give it a timeout of at most 47.5 s.",
            Assert.Single(fitting.Validate()).Message);

        // c's attempts do not fit in r, but each attempt (which is what g runs inside) is still only 40 s.
        var retried = BudgetPlan.Create("r", TimeSpan.FromSeconds(100), r => r
            .Child("c", TimeSpan.FromSeconds(40), c => c.WithRetry(new RetrySchedule(3)).Child("g", Timeout.InfiniteTimeSpan)));
        var violations = retried.Validate();
        Assert.Equal(["r/c", "r/c/g"], violations.Select(v => v.Path));
        Assert.Equal("c: 3 attempts × 40 s = 120 s does not fit in r 100 s − margin 5 s" + DoesNotFit, violations[0].Message);
        Assert.Equal("g has no timeout, so it can outlive c (40 s) and keep running after c gave up; give it a timeout of at most 38 s.", violations[1].Message);
    }

    [Fact]
    public void Validate_says_an_unbounded_layer_under_unbounded_ancestors_can_hang_forever()
    {
        var plan = BudgetPlan.Create("r", Timeout.InfiniteTimeSpan, r => r.Child("p", Timeout.InfiniteTimeSpan, p => p.Child("q", TimeSpan.FromSeconds(10))));

        var violations = plan.Validate();
        Assert.Equal(["r", "r/p"], violations.Select(v => v.Path));
        Assert.Equal("p has no timeout, and neither has any layer above it: it can hang forever.", violations[1].Message);
    }

    [Fact]
    public void Validate_points_a_childs_violation_at_its_timeout_in_the_json()
    {
        const string json = """{ "layer": "a", "timeout": "10s", "children": [ { "layer": "b", "timeout": "none" } ] }""";
        var violation = Assert.Single(BudgetPlan.Parse(json).Validate());
        Assert.Equal((1, json.IndexOf("\"none\"", StringComparison.Ordinal) + 1, 6), (violation.Line, violation.Column, violation.Length));
    }

    [Fact]
    public void Parse_reads_every_layer_property_into_the_node()
    {
        var plan = BudgetPlan.Parse("""
            { "$schema": "x", "description": 5, "layer": "a", "timeout": "10s", "margin": "10%", "reserve": "1s",
              "retry": { "maxAttempts": 4, "delay": "250ms", "backoff": "LINEAR", "maxDelay": "1s" },
              "children": [ { "layer": "b", "timeout": "none", "margin": "2s" }, { "layer": "B", "timeout": "1s" } ] }
            """);

        var root = plan.Root;
        Assert.Equal(("a", "a", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1)), (root.Layer, root.Path, root.Timeout, root.Reserve));
        Assert.Equal(BudgetMargin.Parse("10%"), root.Margin);
        Assert.Null(root.Parent);
        var retry = root.Retry!;
        Assert.Equal((4, TimeSpan.FromMilliseconds(250), RetryBackoff.Linear, (TimeSpan?)TimeSpan.FromSeconds(1)), (retry.MaxAttempts, retry.Delay, retry.Backoff, retry.MaxDelay));

        Assert.Equal(["a/b", "a/B"], root.Children.Select(c => c.Path));
        var b = root.Children[0];
        Assert.True(b.IsUnbounded);
        Assert.Same(root, b.Parent);
        Assert.Equal(BudgetMargin.Absolute(TimeSpan.FromSeconds(2)), b.Margin);
        Assert.Equal(TimeSpan.Zero, b.Reserve);
        Assert.Null(b.Retry);
        Assert.Null(root.Children[1].Margin);
    }

    [Theory]
    [InlineData("constant", RetryBackoff.Constant)]
    [InlineData("Linear", RetryBackoff.Linear)]
    [InlineData("EXPONENTIAL", RetryBackoff.Exponential)]
    public void Parse_reads_the_backoff_by_name_ignoring_case(string name, RetryBackoff backoff)
    {
        var plan = BudgetPlan.Parse($$"""{ "layer": "a", "timeout": "1s", "retry": { "backoff": "{{name}}", "maxAttempts": 2 } }""");
        Assert.Equal(backoff, plan.Root.Retry!.Backoff);
    }

    [Fact]
    public void Parse_defaults_a_retry_to_constant_backoff_without_delay_or_cap()
    {
        var retry = BudgetPlan.Parse("""{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": 3 } }""").Root.Retry!;
        Assert.Equal((3, TimeSpan.Zero, RetryBackoff.Constant, (TimeSpan?)null), (retry.MaxAttempts, retry.Delay, retry.Backoff, retry.MaxDelay));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(RetrySchedule.MaxAttemptsLimit)]
    public void Parse_accepts_max_attempts_at_both_ends_of_the_range(int attempts)
    {
        var plan = BudgetPlan.Parse($$"""{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": {{attempts}} } }""");
        Assert.Equal(attempts, plan.Root.Retry!.MaxAttempts);
    }

    [Theory]
    [InlineData("10001", "the number 10001")]
    [InlineData("0", "the number 0")]
    [InlineData("-1", "the number -1")]
    [InlineData("1e1", "the number 1e1")]
    [InlineData("\"3\"", "the string \"3\"")]
    public void Parse_rejects_max_attempts_outside_the_range_quoting_the_value(string attempts, string described)
    {
        var json = $$"""{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": {{attempts}} } }""";
        AssertPlanError(json, $"\"maxAttempts\" counts every attempt including the first and must be a whole number from 1 to 10000, not {described}", attempts, attempts.Length);
    }

    public static TheoryData<string, string, string, int> MalformedLayers => new()
    {
        { "5", "Expected a layer object such as { \"layer\": \"api\", \"timeout\": \"20s\" } but found the number 5", "5", 1 },
        { """{ "layer": "a", "timeout": "1s", "children": [ "b" ] }""", "Expected a layer object such as { \"layer\": \"api\", \"timeout\": \"20s\" } but found the string \"b\"", "\"b\"", 3 },
        { """{ "timeout": "1s" }""", "A layer object has no \"layer\" name", "{", 1 },
        { """{ "layer": 5, "timeout": "1s" }""", "\"layer\" must be a string but is the number 5", "5", 1 },
        { """{ "layer": "  ", "timeout": "1s" }""", "A layer name must not be empty", "\"  \"", 4 },
        { """{ "layer": "a\u0001", "timeout": "1s" }""", "The layer name \"a?\" contains '/' or a control character; '/' separates layers in a path", "\"a\\u0001\"", 9 },
        { """{ "layer": "api" }""", "Layer \"api\" has no \"timeout\"; write one such as \"30s\", or \"none\" for a layer that really has none", "{", 1 },
        { """{ "layer": "a", "timeout": 30 }""", "\"timeout\" is the bare number 30; write it with a unit, such as \"30s\" or \"30ms\", so nobody has to guess", "30", 2 },
        { """{ "layer": "a", "timeout": true }""", "\"timeout\" must be a string but is true", "true", 4 },
        { """{ "layer": "a", "timeout": "1s", "margin": 5 }""", "\"margin\" must be a string but is the number 5", "5", 1 },
        { """{ "layer": "a", "timeout": "1s", "margin": "150%" }""", "\"150%\" is not a valid margin: write a percentage from 0% to below 100%, or a duration such as \"2s\"", "\"150%\"", 6 },
        { """{ "layer": "a", "timeout": "1s", "children": { } }""", "\"children\" of \"a\" must be an array of layers but is an object", "{ }", 1 },
        { """{ "layer": "a", "timeout": "1s", "children": [ { "layer": "b", "timeout": "1s" }, { "layer": "b", "timeout": "2s" } ] }""", "Layer \"a\" has two children named \"b\"; sibling names must differ so paths are unique", "{ \"layer\": \"b\", \"timeout\": \"2s\" }", 1 },
        { """{ "layer": "a", "timeout": "1s", "retry": 3 }""", "\"retry\" must be an object such as { \"maxAttempts\": 3, \"delay\": \"1s\" } but is the number 3", "3", 1 },
        { """{ "layer": "a", "timeout": "1s", "retry": [ ] }""", "\"retry\" must be an object such as { \"maxAttempts\": 3, \"delay\": \"1s\" } but is an array", "[ ]", 1 },
        { """{ "layer": "a", "timeout": "1s", "retry": { "delay": "1s" } }""", "\"retry\" needs \"maxAttempts\" (every attempt including the first)", "{ \"delay\"", 1 },
        { """{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": 2, "backoff": "fibonacci" } }""", "\"backoff\" must be \"constant\", \"linear\" or \"exponential\", not \"fibonacci\"", "\"fibonacci\"", 11 },
        { """{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": 2, "backoff": 1 } }""", "\"backoff\" must be a string but is the number 1", "1 }", 1 },
    };

    [Theory]
    [MemberData(nameof(MalformedLayers))]
    public void Parse_rejects_a_malformed_layer_saying_what_is_wrong_and_where(string json, string message, string at, int length) =>
        AssertPlanError(json, message, at, length);

    public static TheoryData<string, string, string, int> UnknownProperties => new()
    {
        { """{ "layer": "a", "timout": "1s" }""", "Unknown property \"timout\" (line 1, column 17); a layer has layer, timeout, margin, reserve, retry, children and description.", "\"timout\"", 8 },
        { """{ "layer": "a", "timeout": "1s", "a$": 1 }""", "Unknown property \"a$\" (line 1, column 34); a layer has layer, timeout, margin, reserve, retry, children and description.", "\"a$\"", 4 },
        { """{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": 2, "attempts": 3 } }""", "Unknown retry property \"attempts\" (line 1, column 63); retry has maxAttempts, delay, backoff and maxDelay.", "\"attempts\"", 10 },
    };

    [Theory]
    [MemberData(nameof(UnknownProperties))]
    public void Parse_rejects_an_unknown_property_naming_it_where_it_is_and_what_is_allowed(string json, string message, string at, int length)
    {
        var exception = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse(json));
        Assert.Equal(message, exception.Message);
        Assert.Equal((1, json.IndexOf(at, StringComparison.Ordinal) + 1, length), (exception.Line, exception.Column, exception.Length));
    }

    [Fact]
    public void Parse_accepts_a_layer_name_of_the_maximum_length_and_rejects_a_longer_one()
    {
        var longest = new string('x', BudgetPlan.MaxLayerNameLength);
        Assert.Equal(longest, BudgetPlan.Parse($$"""{ "layer": "{{longest}}", "timeout": "1s" }""").Root.Layer);

        var exception = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse($$"""{ "layer": "{{longest}}x", "timeout": "1s" }"""));
        Assert.StartsWith($"The layer name \"{new string('x', 40)}…\" is longer than 128 characters (line 1, column 12).", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("timeout", "soon")]
    [InlineData("reserve", "none")]
    [InlineData("reserve", "-1s")]
    public void Parse_rejects_an_invalid_duration_naming_the_property_and_quoting_the_text(string property, string text)
    {
        var json = property == "timeout"
            ? $$"""{ "layer": "a", "timeout": "{{text}}" }"""
            : $$"""{ "layer": "a", "timeout": "1s", "{{property}}": "{{text}}" }""";
        var exception = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse(json));
        var column = json.IndexOf($"\"{text}\"", StringComparison.Ordinal) + 1;
        Assert.StartsWith($"\"{property}\": \"{text}\" is not a valid duration", exception.Message, StringComparison.Ordinal);
        Assert.EndsWith($" (line 1, column {column}).", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(". (line", exception.Message, StringComparison.Ordinal);
        Assert.Equal((column, text.Length + 2), (exception.Column, exception.Length));
    }

    [Theory]
    [InlineData("delay")]
    [InlineData("maxDelay")]
    public void Parse_rejects_a_retry_delay_that_is_not_a_finite_duration(string property)
    {
        var json = $$"""{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": 2, "{{property}}": "none" } }""";
        var exception = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse(json));
        Assert.StartsWith($"\"{property}\": \"none\" is not a valid duration", exception.Message, StringComparison.Ordinal);

        var bare = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse(json.Replace("\"none\"", "2", StringComparison.Ordinal)));
        Assert.StartsWith($"\"{property}\" is the bare number 2; write it with a unit", bare.Message, StringComparison.Ordinal);
    }

    private static void AssertPlanError(string json, string message, string at, int length)
    {
        var exception = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse(json));
        var column = json.IndexOf(at, StringComparison.Ordinal) + 1;
        Assert.True(column > 0, $"marker {at} not found");
        Assert.Equal($"{message} (line 1, column {column}).", exception.Message);
        Assert.Equal((1, column, length), (exception.Line, exception.Column, exception.Length));
    }
}
