using Verifier = TimeoutBudget.Analyzers.Tests.Verify<TimeoutBudget.Analyzers.TimeoutPlanAnalyzer>;

namespace TimeoutBudget.Analyzers.Tests;

public class TimeoutPlanTests
{
    private const string NoCode = "class C { }";

    [Fact]
    public Task Seed000_plan_child_longer_than_parent_is_reported_at_its_node() => Verifier.AnalyzerAsync(NoCode, null, ("/0/timeouts.json", """
        {
          "layer": "orchestrator",
          "timeout": "180s",
          "children": [
            { "layer": "sdk", "timeout": {|TB0007:"240s"|} }
          ]
        }
        """));

    [Fact]
    public Task Malformed_plan_is_reported_where_it_breaks() => Verifier.AnalyzerAsync(NoCode, null, ("/0/api.timeouts.json", """
        { "layer": "api", "timeout": {|TB0007:"ten seconds"|} }
        """));

    [Fact]
    public Task Aligned_plans_and_other_json_files_are_clean() => Verifier.AnalyzerAsync(
        NoCode,
        null,
        ("/0/timeouts.json", """
        { "layer": "proxy", "timeout": "120s", "children": [ { "layer": "worker", "timeout": "100s" } ] }
        """),
        ("/0/appsettings.json", """
        { "layer": "proxy", "timeout": "1s", "children": [ { "layer": "worker", "timeout": "100s" } ] }
        """));
}
