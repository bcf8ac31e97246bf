using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>Loading, starting and validating a plan at run time: the edges mutation testing found unpinned.</summary>
public sealed class PlanRuntimeMutationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("timeoutbudget-plan-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_plan_file_may_be_4_MiB_and_not_a_byte_more()
    {
        Assert.Equal(4_194_304, BudgetPlan.MaxFileBytes);

        const string Json = """{ "layer": "api", "timeout": "10s" }""";
        var atLimit = Write("at-limit.json", Json.PadRight((int)BudgetPlan.MaxFileBytes));
        Assert.Equal("api", BudgetPlan.Load(atLimit).Root.Layer);

        var overLimit = Write("over-limit.json", Json.PadRight((int)BudgetPlan.MaxFileBytes + 1));
        var error = Assert.Throws<IOException>(() => BudgetPlan.Load(overLimit));
        Assert.Equal($"The plan file '{overLimit}' is 4194305 bytes; a plan may be at most 4194304 bytes.", error.Message);
    }

    [Fact]
    public void A_malformed_plan_file_is_reported_with_its_name_and_position()
    {
        var path = Write("broken.json", "{ \"layer\": \"api\",\n  \"timeout\": 12 }");
        var parseError = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Parse(File.ReadAllText(path)));

        var error = Assert.Throws<BudgetPlanException>(() => BudgetPlan.Load(path));
        Assert.Equal($"{path}: {parseError.Message}", error.Message);
        Assert.Equal(parseError.Line, error.Line);
        Assert.Equal(parseError.Column, error.Column);
        Assert.Equal(parseError.Length, error.Length);
    }

    [Fact]
    public void Loading_needs_a_path()
    {
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => BudgetPlan.Load(null!)).ParamName);
        Assert.Equal("path", Assert.Throws<ArgumentException>(() => BudgetPlan.Load("")).ParamName);
        Assert.Throws<FileNotFoundException>(() => BudgetPlan.Load(Path.Combine(_directory, "missing.json")));
    }

    [Fact]
    public void A_plan_without_a_root_timeout_cannot_start_and_says_why()
    {
        var plan = BudgetPlan.Parse("""{ "layer": "api", "timeout": "none", "children": [ { "layer": "db", "timeout": "1s" } ] }""");
        var error = Assert.Throws<InvalidOperationException>(() => plan.Start(new BudgetOptions { TimeProvider = new FakeTimeProvider() }));
        Assert.Equal("The plan's root 'api' has no timeout; a budget needs one.", error.Message);
        Assert.Null(Budget.Current);
    }

    [Fact]
    public void EnsureValid_lists_every_violation_or_returns_the_plan()
    {
        var valid = BudgetPlan.Parse("""{ "layer": "api", "timeout": "10s", "children": [ { "layer": "db", "timeout": "1s" } ] }""");
        Assert.Same(valid, valid.EnsureValid());

        var invalid = BudgetPlan.Parse("""{ "layer": "api", "timeout": "10s", "children": [ { "layer": "db", "timeout": "20s" }, { "layer": "cache", "timeout": "30s" } ] }""");
        var violations = invalid.Validate();
        Assert.Equal(2, violations.Count);
        var error = Assert.Throws<BudgetPlanException>(invalid.EnsureValid);
        var expected = $"The timeout plan has 2 violation(s):{Environment.NewLine}  - {violations[0]}{Environment.NewLine}  - {violations[1]}";
        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void A_plan_starts_with_its_roots_worst_case_and_stays_current()
    {
        var clock = new FakeTimeProvider();
        var plan = BudgetPlan.Parse("""{ "layer": "api", "timeout": "10s" }""");
        using var root = plan.Start(new BudgetOptions { TimeProvider = clock });
        Assert.Same(root, Budget.Current);
        Assert.Equal("api", root.Layer);
        Assert.Equal(TimeSpan.FromSeconds(10), root.Allotted);
        Assert.Equal(TimeSpan.FromSeconds(10), root.Requested);
    }

    private string Write(string name, string content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }
}
