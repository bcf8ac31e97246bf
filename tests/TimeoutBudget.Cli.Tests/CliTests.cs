using System.Text.Json;
using System.Xml.Linq;

namespace TimeoutBudget.Cli.Tests;

public sealed class CliTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("timeout-budget-cli-").FullName;

    public static TheoryData<string> SeedPlans() => new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "plans"), "*.json").Select(Path.GetFileName)!);

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void Check_exits_0_for_an_aligned_plan()
    {
        var (code, output, _) = Run("check", Plan("seed-000-after.timeouts.json"));
        Assert.Equal(CliApp.Success, code);
        Assert.Contains("✓", output);
        Assert.Contains("1 plan(s) aligned.", output);
    }

    [Fact]
    public void Check_exits_1_and_prints_every_violation_with_its_arithmetic()
    {
        var (code, output, _) = Run("check", Plan("seed-001-before.timeouts.json"));
        Assert.Equal(CliApp.Violations, code);
        Assert.Contains("3 violation(s) in 4 layer(s)", output);
        Assert.Contains("server/go-context (line 8, column 18)", output);
        Assert.Contains("go-context: 65 s does not fit in server 30 s − margin 1.5 s", output);
        Assert.Contains("config-python: 30 s does not fit in server 30 s − margin 1.5 s (equal is not before)", output);
        Assert.DoesNotContain("\u001b[", output);
    }

    [Fact]
    public void Check_colours_only_when_asked()
    {
        var output = new StringWriter();
        CliApp.Run(["check", Plan("seed-002.timeouts.json")], output, new StringWriter(), colour: true);
        Assert.Contains("\u001b[31m", output.ToString());
    }

    [Fact]
    public void Check_exits_2_for_a_malformed_or_missing_plan_and_says_where()
    {
        var bad = Path.Combine(_temp, "bad.json");
        File.WriteAllText(bad, """{ "layer": "a", "timeout": "30 parsecs" }""");
        var (code, output, _) = Run("check", bad);
        Assert.Equal(CliApp.Unusable, code);
        Assert.Contains("\"30 parsecs\"", output);
        Assert.Contains("line 1, column 28", output);

        Assert.Equal(CliApp.Unusable, Run("check", Path.Combine(_temp, "missing.json")).Code);
    }

    [Fact]
    public void Check_names_the_nesting_limit_in_layers()
    {
        // Each layer the only child of the one before, each 80 % of its parent (so every margin fits): 32 are accepted and
        // aligned, the 33rd is refused by its number.
        static string Chain(int layers) =>
            string.Concat(Enumerable.Range(1, layers).Select(i => $"{{ \"layer\": \"l{i}\", \"timeout\": \"{(long)(1e9 * Math.Pow(0.8, i))}ms\", \"children\": [\n"))
            + string.Concat(Enumerable.Repeat("] }", layers));

        var deepest = Path.Combine(_temp, "32-layers.json");
        File.WriteAllText(deepest, Chain(32));
        Assert.Equal(CliApp.Success, Run("check", deepest).Code);

        var tooDeep = Path.Combine(_temp, "33-layers.json");
        File.WriteAllText(tooDeep, Chain(33));
        var (code, output, _) = Run("check", tooDeep);
        Assert.Equal(CliApp.Unusable, code);
        Assert.Contains("nests deeper than 32 layers", output);
        Assert.Contains("under \"l32\", is layer 33 (line 33, column 1)", output);
        Assert.DoesNotContain("levels", output);
    }

    [Fact]
    public void Check_with_several_plans_exits_with_the_worst_result()
    {
        Assert.Equal(CliApp.Violations, Run("check", Plan("seed-000-after.timeouts.json"), Plan("seed-002.timeouts.json")).Code);
        Assert.Equal(CliApp.Success, Run("check", Plan("seed-000-after.timeouts.json"), Plan("seed-002-aligned.timeouts.json")).Code);
    }

    [Fact]
    public void Json_format_is_machine_readable()
    {
        var (code, output, _) = Run("check", Plan("seed-000-retries-on.timeouts.json"), "--format", "json");
        Assert.Equal(CliApp.Violations, code);
        using var json = JsonDocument.Parse(output);
        Assert.False(json.RootElement.GetProperty("aligned").GetBoolean());
        var violation = json.RootElement.GetProperty("plans")[0].GetProperty("violations")[0];
        Assert.Equal("orchestrator/sdk", violation.GetProperty("path").GetString());
        Assert.StartsWith("sdk: 3 attempts × 540 s + 1 s + 2 s = 1623 s", violation.GetProperty("message").GetString());
        Assert.Equal(8, violation.GetProperty("line").GetInt32());
    }

    [Fact]
    public void Sarif_format_is_sarif_2_1_0_with_rule_TB0007_and_regions()
    {
        var (code, output, _) = Run("check", Plan("seed-003-before.timeouts.json"), "-f", "sarif");
        Assert.Equal(CliApp.Violations, code);
        using var sarif = JsonDocument.Parse(output);
        Assert.Equal("2.1.0", sarif.RootElement.GetProperty("version").GetString());
        var run = sarif.RootElement.GetProperty("runs")[0];
        Assert.Equal("TB0007", run.GetProperty("tool").GetProperty("driver").GetProperty("rules")[0].GetProperty("id").GetString());
        var results = run.GetProperty("results");
        Assert.Equal(2, results.GetArrayLength());
        var region = results[0].GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("region");
        Assert.Equal(3, region.GetProperty("startLine").GetInt32());
        Assert.EndsWith("seed-003-before.timeouts.json", results[0].GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("artifactLocation").GetProperty("uri").GetString());
    }

    [Theory]
    [InlineData("check")]
    [InlineData("check", "a.json", "--format", "xml")]
    [InlineData("draw", "a.json")]
    [InlineData("frobnicate")]
    [InlineData()]
    public void Bad_usage_exits_2_with_a_usage_line(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(CliApp.Unusable, code);
        Assert.Contains("Usage: timeout-budget", error);
    }

    [Theory]
    [MemberData(nameof(SeedPlans))]
    public void Every_seed_plan_checks_and_draws_as_svg_and_html(string plan)
    {
        var expected = plan.Contains("after", StringComparison.Ordinal) || plan.Contains("aligned", StringComparison.Ordinal) ? CliApp.Success : CliApp.Violations;
        Assert.Equal(expected, Run("check", Plan(plan)).Code);

        var svgPath = Path.Combine(_temp, plan + ".svg");
        Assert.Equal(CliApp.Success, Run("draw", Plan(plan), "-o", svgPath).Code);
        var svg = XDocument.Load(svgPath);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        var texts = svg.Descendants(ns + "text").Select(t => t.Value).ToList();
        foreach (var layer in BudgetPlan.Load(Plan(plan)).Nodes)
        {
            Assert.Contains(layer.Layer, texts);
        }

        var htmlPath = Path.Combine(_temp, "nested", plan + ".html");
        Assert.Equal(CliApp.Success, Run("draw", Plan(plan), "--output", htmlPath).Code);
        var html = File.ReadAllText(htmlPath);
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains("<svg", html);
    }

    [Fact]
    public void Violations_are_drawn_in_red_with_their_numbers()
    {
        var svgPath = Path.Combine(_temp, "seed-000.svg");
        Run("draw", Plan("seed-000-retries-on.timeouts.json"), "-o", svgPath);
        var svg = File.ReadAllText(svgPath);
        Assert.Contains("fill=\"#d9534f\"", svg);
        Assert.Contains("1623 s", svg);
        Assert.Contains("margin 30 s", svg);
    }

    [Fact]
    public void Draw_refuses_other_extensions_and_unreadable_plans()
    {
        Assert.Equal(CliApp.Unusable, Run("draw", Plan("seed-002.timeouts.json"), "-o", Path.Combine(_temp, "plan.png")).Code);
        var bad = Path.Combine(_temp, "bad.json");
        File.WriteAllText(bad, "{");
        var (code, _, error) = Run("draw", bad, "-o", Path.Combine(_temp, "bad.svg"));
        Assert.Equal(CliApp.Unusable, code);
        Assert.Contains("line 1", error);
    }

    [Fact]
    public void Layer_names_are_escaped_in_the_drawing()
    {
        var plan = Path.Combine(_temp, "evil.json");
        File.WriteAllText(plan, """{ "layer": "<img src=x onerror=alert(1)>", "timeout": "1s" }""");
        var output = Path.Combine(_temp, "evil.html");
        Assert.Equal(CliApp.Success, Run("draw", plan, "-o", output).Code);
        var html = File.ReadAllText(output);
        Assert.DoesNotContain("<img", html);
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;", html);
    }

    private static string Plan(string name) => Path.Combine(AppContext.BaseDirectory, "plans", name);

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
