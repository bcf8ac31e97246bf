namespace TimeoutBudget.Tests;

public sealed class BudgetPlanTests
{
    [Fact]
    public void Seed_000_as_deployed_reports_the_sdk_outliving_the_wait()
    {
        var violation = Assert.Single(PlanTestData.Load("seed-000-before.timeouts.json").Validate());
        Assert.Equal("orchestrator/sdk", violation.Path);
        Assert.Equal(
            "sdk: 3 attempts × 240 s + 1 s + 2 s = 723 s does not fit in orchestrator 180 s − margin 9 s; inner timeouts must expire before the outer ones that contain them.",
            violation.Message);
    }

    [Fact]
    public void Seed_000_with_retries_left_on_reports_the_retry_arithmetic()
    {
        var violation = Assert.Single(PlanTestData.Load("seed-000-retries-on.timeouts.json").Validate());
        Assert.Equal("orchestrator/sdk", violation.Path);
        Assert.StartsWith("sdk: 3 attempts × 540 s + 1 s + 2 s = 1623 s does not fit in orchestrator 600 s − margin 30 s", violation.Message);
        Assert.True(violation.Line > 0 && violation.Column > 0);
    }

    [Fact]
    public void Seed_000_fixed_validates_clean()
    {
        Assert.Empty(PlanTestData.Load("seed-000-after.timeouts.json").Validate());
    }

    [Fact]
    public void Seed_001_reports_every_layer_that_outlives_the_server()
    {
        var violations = PlanTestData.Load("seed-001-before.timeouts.json").Validate();

        Assert.Equal(["server/go-context", "server/go-context/python-script", "server/config-python"], violations.Select(v => v.Path));
        Assert.Contains("go-context: 65 s does not fit in server 30 s − margin 1.5 s", violations[0].Message);
        Assert.Contains("python-script: 60 s fits in go-context 65 s as declared, but go-context itself gets only 28.5 s", violations[1].Message);
        Assert.Contains("config-python: 30 s does not fit in server 30 s − margin 1.5 s (equal is not before)", violations[2].Message);
    }

    [Fact]
    public void Seed_001_aligned_validates_clean()
    {
        Assert.Empty(PlanTestData.Load("seed-001-after.timeouts.json").Validate());
    }

    [Fact]
    public void Seed_002_reports_the_worker_that_equals_the_proxy_and_nothing_else()
    {
        var violation = Assert.Single(PlanTestData.Load("seed-002.timeouts.json").Validate());
        Assert.Equal("proxy/worker", violation.Path);
        Assert.Contains("worker: 120 s does not fit in proxy 120 s − margin 6 s (equal is not before)", violation.Message);
        Assert.Empty(PlanTestData.Load("seed-002-aligned.timeouts.json").Validate());
    }

    [Fact]
    public void Seed_003_reports_the_run_and_the_fetch_with_no_timeout()
    {
        var violations = PlanTestData.Load("seed-003-before.timeouts.json").Validate();
        Assert.Equal(["integrity-run", "integrity-run/airtable-fetch"], violations.Select(v => v.Path));
        Assert.Contains("has no timeout at all", violations[0].Message);
        Assert.Contains("can hang forever", violations[1].Message);
        Assert.Empty(PlanTestData.Load("seed-003-after.timeouts.json").Validate());
    }

    [Fact]
    public void Reserve_is_deducted_before_the_margin()
    {
        var plan = BudgetPlan.Parse("""{ "layer": "workflow", "timeout": "40s", "reserve": "5s", "children": [ { "layer": "api", "timeout": "34s" } ] }""");
        var violation = Assert.Single(plan.Validate());
        Assert.Contains("api: 34 s does not fit in workflow 40 s − reserve 5 s − margin 1.75 s", violation.Message);
    }

    [Fact]
    public void A_reserve_that_takes_everything_is_reported()
    {
        var plan = BudgetPlan.Create("workflow", TimeSpan.FromSeconds(40), w => w.WithReserve(TimeSpan.FromSeconds(40)));
        Assert.Contains("leaving no time for its children", Assert.Single(plan.Validate()).Message);
    }

    [Fact]
    public void An_unbounded_child_under_a_bounded_parent_is_told_what_it_may_have()
    {
        var plan = BudgetPlan.Parse("""{ "layer": "run", "timeout": "30m", "children": [ { "layer": "fetch", "timeout": "none" } ] }""");
        var violation = Assert.Single(plan.Validate());
        Assert.Equal("run/fetch", violation.Path);
        Assert.Contains("fetch has no timeout, so it can outlive run (1800 s)", violation.Message);
        Assert.Contains("at most 1710 s", violation.Message);
    }

    [Fact]
    public void Zero_timeouts_are_reported()
    {
        var plan = BudgetPlan.Parse("""{ "layer": "a", "timeout": "0s", "children": [ { "layer": "b", "timeout": "0ms" } ] }""");
        Assert.Equal(["a", "a/b"], plan.Validate().Select(v => v.Path));
    }

    [Fact]
    public void Absolute_and_zero_margins_are_honoured_and_equal_is_never_before()
    {
        var absolute = BudgetPlan.Parse("""{ "layer": "a", "timeout": "10s", "margin": "2s", "children": [ { "layer": "b", "timeout": "8s" }, { "layer": "c", "timeout": "8.5s" } ] }""");
        Assert.Equal(["a/c"], absolute.Validate().Select(v => v.Path));

        var none = BudgetPlan.Parse("""{ "layer": "a", "timeout": "10s", "margin": "0s", "children": [ { "layer": "b", "timeout": "10s" }, { "layer": "c", "timeout": "9.999s" } ] }""");
        Assert.Equal(["a/b"], none.Validate().Select(v => v.Path));
    }

    [Theory]
    [InlineData("constant", "3 attempts × 10 s + 4 s + 4 s = 38 s")]
    [InlineData("linear", "3 attempts × 10 s + 4 s + 8 s = 42 s")]
    [InlineData("exponential", "3 attempts × 10 s + 4 s + 8 s = 42 s")]
    public void Each_backoff_adds_its_own_delays(string backoff, string arithmetic)
    {
        var plan = BudgetPlan.Parse($$"""{ "layer": "a", "timeout": "20s", "children": [ { "layer": "b", "timeout": "10s", "retry": { "maxAttempts": 3, "delay": "4s", "backoff": "{{backoff}}" } } ] }""");
        Assert.Contains(arithmetic, Assert.Single(plan.Validate()).Message);
    }

    [Fact]
    public void Max_delay_caps_every_delay_and_huge_schedules_saturate_instead_of_overflowing()
    {
        var capped = new RetrySchedule(5, TimeSpan.FromSeconds(1), RetryBackoff.Exponential, TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(5 + 1 + 2 + 3 + 3), capped.WorstCase(TimeSpan.FromSeconds(1)));

        var huge = new RetrySchedule(RetrySchedule.MaxAttemptsLimit, TimeSpan.FromDays(365), RetryBackoff.Exponential);
        Assert.Equal(TimeSpan.MaxValue, huge.WorstCase(TimeSpan.FromDays(365)));
        Assert.Contains("more delays", huge.DescribeWorstCase(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Builder_and_json_produce_the_same_violations()
    {
        var built = BudgetPlan.Create("orchestrator", TimeSpan.FromSeconds(600), o => o
            .Child("sdk", TimeSpan.FromSeconds(540), s => s.WithRetry(new RetrySchedule(3, TimeSpan.FromSeconds(1), RetryBackoff.Exponential))));
        var parsed = PlanTestData.Load("seed-000-retries-on.timeouts.json");
        Assert.Equal(parsed.Validate().Select(v => v.Message), built.Validate().Select(v => v.Message));
        Assert.Equal(0, built.Validate()[0].Line);
    }

    [Fact]
    public void Violations_point_at_the_offending_timeout_in_the_json()
    {
        var json = "{\n  \"layer\": \"proxy\",\n  \"timeout\": \"10s\",\n  \"children\": [\n    { \"layer\": \"api\", \"timeout\": \"20s\" }\n  ]\n}";
        var violation = Assert.Single(BudgetPlan.Parse(json).Validate());
        Assert.Equal(5, violation.Line);
        Assert.Equal(json.Split('\n')[4].IndexOf("\"20s\"", StringComparison.Ordinal) + 1, violation.Column);
        Assert.Equal(5, violation.Length);
        Assert.Equal("\"20s\"", json.Split('\n')[violation.Line - 1].Substring(violation.Column - 1, violation.Length));
    }

    [Fact]
    public void Find_and_nodes_walk_the_tree()
    {
        var plan = PlanTestData.Load("seed-002.timeouts.json");
        Assert.Equal(TimeSpan.FromSeconds(20), plan.Find("proxy/worker/workflow/anthropic-api")!.Timeout);
        Assert.Null(plan.Find("proxy/nope"));
        Assert.Null(plan.Find("other"));
        Assert.Equal(["proxy", "worker", "workflow", "anthropic-api"], plan.Nodes.Select(n => n.Layer));
    }

    [Theory]
    [InlineData("""{ "layer": "a", "timeout": 30 }""", "bare number 30", "30 }")]
    [InlineData("""{ "layer": "a", "timeout": "30 parsecs" }""", "\"30 parsecs\"", "\"30 parsecs\"")]
    [InlineData("""{ "layer": "a" }""", "has no \"timeout\"", "{")]
    [InlineData("""{ "timeout": "1s" }""", "no \"layer\" name", "{")]
    [InlineData("""{ "layer": "", "timeout": "1s" }""", "must not be empty", "\"\"")]
    [InlineData("""{ "layer": "a/b", "timeout": "1s" }""", "'/'", "\"a/b\"")]
    [InlineData("""{ "layer": "a", "timout": "1s" }""", "Unknown property \"timout\"", "\"timout\"")]
    [InlineData("""{ "layer": "a", "layer": "b", "timeout": "1s" }""", "Duplicate property \"layer\"", "\"layer\": \"b\"")]
    [InlineData("""{ "layer": "a", "timeout": "1s", "children": [ { "layer": "b", "timeout": "1s" }, { "layer": "b", "timeout": "1s" } ] }""", "two children named \"b\"", """{ "layer": "b", "timeout": "1s" } ]""")]
    [InlineData("""{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": 0 } }""", "from 1 to 10000", "0 }")]
    [InlineData("""{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": 2.5 } }""", "from 1 to 10000", "2.5")]
    [InlineData("""{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": 99999999999 } }""", "from 1 to 10000", "99999999999")]
    [InlineData("""{ "layer": "a", "timeout": "1s", "retry": { "maxAttempts": 2, "backoff": "fibonacci" } }""", "\"fibonacci\"", "\"fibonacci\"")]
    [InlineData("""{ "layer": "a", "timeout": "1s", "retry": { } }""", "needs \"maxAttempts\"", "{ } }")]
    [InlineData("""{ "layer": "a", "timeout": "1s", "margin": "150%" }""", "\"150%\"", "\"150%\"")]
    [InlineData("""{ "layer": "a", "timeout": "1s" """, "ends inside an object", null)]
    [InlineData("""{ "layer": "a", "timeout": "1s" } x""", "Unexpected text after", "x")]
    [InlineData("""[ ]""", "Expected a layer object", "[")]
    [InlineData("", "ends where a value was expected", null)]
    [InlineData("""{ "layer": "a\q", "timeout": "1s" }""", "Invalid escape", @"\q")]
    [InlineData("""{ "layer": "a", "timeout": "1s", "children": {} }""", "must be an array", "{} }")]
    public void Malformed_plans_get_an_exception_that_quotes_the_value_and_its_position(string json, string fragment, string? at)
    {
        var exception = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse(json));
        Assert.Contains(fragment, exception.Message, StringComparison.Ordinal);
        var column = at is null ? json.Length + 1 : json.LastIndexOf(at.TrimEnd(), StringComparison.Ordinal) + 1;
        Assert.True(column > 0, $"marker {at} not found");
        Assert.Equal(1, exception.Line);
        Assert.Equal(column, exception.Column);
        Assert.Contains($"line 1, column {column}", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deeply_nested_json_is_rejected_instead_of_overflowing_the_stack()
    {
        var json = new string('[', 100_000) + new string(']', 100_000);
        var exception = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse(json));
        Assert.Contains("nests deeper than 256 levels (a plan has at most 32 layers)", exception.Message);
    }

    [Fact]
    public void The_nesting_limit_is_counted_in_layers_and_the_message_names_the_deepest_layer()
    {
        var deepest = BudgetPlan.Parse(Chain(BudgetPlan.MaxNestedLayers));
        Assert.Equal(BudgetPlan.MaxNestedLayers, deepest.Nodes.Count());

        // 33 layers once read as "nests deeper than 64 levels": JSON levels, which a plan's author never counts.
        var json = Chain(BudgetPlan.MaxNestedLayers + 1);
        var exception = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse(json));
        Assert.Equal("The plan nests deeper than 32 layers: this layer, under \"l32\", is layer 33 (line 33, column 1).", exception.Message);
        Assert.Equal(33, exception.Line);
    }

    /// <summary>A plan of <paramref name="layers"/> layers, each the only child of the one before, one layer a line.</summary>
    private static string Chain(int layers)
    {
        var json = new System.Text.StringBuilder();
        for (var i = 1; i <= layers; i++)
        {
            json.Append($"{{ \"layer\": \"l{i}\", \"timeout\": \"{(layers * 10) - i}s\", \"children\": [\n");
        }

        for (var i = 1; i <= layers; i++)
        {
            json.Append("] }");
        }

        return json.ToString();
    }

    [Fact]
    public void Unicode_escapes_and_descriptions_are_read()
    {
        var plan = BudgetPlan.Parse("""{ "$schema": "x", "layer": "caf\u00e9", "timeout": "1s", "description": "ok" }""");
        Assert.Equal("café", plan.Root.Layer);
    }

    [Fact]
    public void Load_names_the_file_in_its_errors()
    {
        var path = Path.Combine(Path.GetTempPath(), $"bad-{Guid.NewGuid():N}.timeouts.json");
        File.WriteAllText(path, """{ "layer": "a", "timeout": "soon" }""");
        try
        {
            var exception = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Load(path));
            Assert.StartsWith(path, exception.Message, StringComparison.Ordinal);
            Assert.Contains("\"soon\"", exception.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void EnsureValid_lists_every_violation()
    {
        var exception = Assert.Throws<BudgetPlanException>(() => PlanTestData.Load("seed-001-before.timeouts.json").EnsureValid());
        Assert.Contains("3 violation(s)", exception.Message);
        Assert.Contains("server/config-python", exception.Message);
    }

    [Fact]
    public void Builder_rejects_bad_input()
    {
        Assert.Throws<ArgumentException>(() => BudgetPlan.Create("", TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => BudgetPlan.Create("a", TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentException>(() => BudgetPlan.Create("a", TimeSpan.FromSeconds(1), a => a.Child("b", TimeSpan.Zero).Child("b", TimeSpan.Zero)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetrySchedule(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetrySchedule(2, TimeSpan.FromSeconds(-1)));
    }
}
