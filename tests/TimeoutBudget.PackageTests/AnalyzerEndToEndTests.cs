using System.Text.Json;

namespace TimeoutBudget.PackageTests;

/// <summary>The analyzer inside the package, as a user meets it: build output, a CI gate, SARIF and .editorconfig.</summary>
[Collection(PackageCollection.Name)]
public sealed class AnalyzerEndToEndTests(PackageFixture fixture)
{
    // Reported where the two timeouts meet: the call that gets the 30 s token on a client allowed 2 min.
    private const string ExpectedLocation = "Fetcher.cs(10,";

    [Fact]
    public void The_package_ships_the_analyzer_and_code_fixes_in_analyzers_dotnet_cs()
    {
        var entries = fixture.PackageEntries();
        Assert.Contains("analyzers/dotnet/cs/TimeoutBudget.Analyzers.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/TimeoutBudget.CodeFixes.dll", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.Contains("Analyzers", StringComparison.Ordinal));
        Assert.DoesNotContain("TimeoutBudget.Analyzers", fixture.ReadPackageEntry("TimeoutBudget.nuspec"));
    }

    [Fact]
    public void A_plain_build_reports_TB0001_with_file_and_line()
    {
        var (code, output) = DotNet.Run(fixture.Consumer, PackageFixture.Bound, "build", "--no-incremental");
        Assert.True(code == 0, output);
        var line = Assert.Single(output.Split('\n').Where(l => l.Contains("warning TB0001", StringComparison.Ordinal)).Distinct());
        Assert.Contains(ExpectedLocation, line);
        Assert.Contains("30 s", line);
    }

    [Fact]
    public void Warnaserror_on_the_rule_fails_the_build_but_its_sarif_log_still_says_warning()
    {
        // Why README recommends the gate switch instead: MSBuild's -warnaserror promotes what the compiler already logged.
        var sarif = Path.Combine(fixture.Root, "consumer-warnaserror.sarif");
        var (code, output) = DotNet.Run(fixture.Consumer, PackageFixture.Bound, "build", "--no-incremental", "-warnaserror:TB0001", $"-p:ErrorLog={sarif}%2Cversion=2.1");
        Assert.NotEqual(0, code);
        Assert.Contains("error TB0001", output);
        Assert.Contains(ExpectedLocation, output);
        Assert.Equal("warning", SarifLevel(sarif, "TB0001"));
    }

    [Fact]
    public void The_gate_switch_fails_the_build_its_sarif_log_says_error_and_the_projects_own_warnings_as_errors_stay()
    {
        var gated = fixture.CreateConsumer("consumer-gate");
        var project = Path.Combine(gated, "Consumer.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("<Nullable>enable</Nullable>", "<Nullable>enable</Nullable><WarningsAsErrors>CS0168</WarningsAsErrors>", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(gated, "Unused.cs"), "namespace Consumer; public static class Unused { public static void M() { int unused; } }");

        var (code, output) = DotNet.Run(gated, PackageFixture.Bound, "build", "-p:TimeoutBudgetGate=true");
        Assert.True(code != 0, output);
        Assert.Contains("error TB0001", output);
        var sarif = Path.Combine(gated, "timeoutbudget.net10.0.sarif");
        Assert.Equal("error", SarifLevel(sarif, "TB0001"));
        Assert.Equal("error", SarifLevel(sarif, "CS0168"));
    }

    [Fact]
    public void The_sarif_error_log_holds_the_result()
    {
        var sarif = Path.Combine(fixture.Root, "consumer.sarif");
        var (code, output) = DotNet.Run(fixture.Consumer, PackageFixture.Bound, "build", "--no-incremental", $"-p:ErrorLog={sarif}%2Cversion=2.1");
        Assert.True(code == 0, output);
        using var log = JsonDocument.Parse(File.ReadAllText(sarif));
        Assert.Equal("2.1.0", log.RootElement.GetProperty("version").GetString());
        var results = log.RootElement.GetProperty("runs").EnumerateArray().SelectMany(r => r.GetProperty("results").EnumerateArray())
            .Where(r => r.GetProperty("ruleId").GetString() == "TB0001").ToList();
        var result = Assert.Single(results);
        var location = result.GetProperty("locations")[0].GetProperty("physicalLocation");
        Assert.EndsWith("Fetcher.cs", location.GetProperty("artifactLocation").GetProperty("uri").GetString());
        Assert.Equal(10, location.GetProperty("region").GetProperty("startLine").GetInt32());
    }

    [Fact]
    public void An_editorconfig_severity_is_honoured()
    {
        var asError = fixture.CreateConsumer("consumer-editorconfig-error");
        File.WriteAllText(Path.Combine(asError, ".editorconfig"), "root = true\n\n[*.cs]\ndotnet_diagnostic.TB0001.severity = error\n");
        var (errorCode, errorOutput) = DotNet.Run(asError, PackageFixture.Bound, "build");
        Assert.NotEqual(0, errorCode);
        Assert.Contains("error TB0001", errorOutput);

        var silenced = fixture.CreateConsumer("consumer-editorconfig-none");
        File.WriteAllText(Path.Combine(silenced, ".editorconfig"), "root = true\n\n[*.cs]\ndotnet_diagnostic.TB0001.severity = none\n");
        var (noneCode, noneOutput) = DotNet.Run(silenced, PackageFixture.Bound, "build");
        Assert.True(noneCode == 0, noneOutput);
        Assert.DoesNotContain("TB0001", noneOutput);
    }

    private static string SarifLevel(string sarif, string rule)
    {
        Assert.True(File.Exists(sarif), $"{sarif} was not written");
        using var log = JsonDocument.Parse(File.ReadAllText(sarif));
        var result = Assert.Single(log.RootElement.GetProperty("runs").EnumerateArray().SelectMany(r => r.GetProperty("results").EnumerateArray()),
            r => r.GetProperty("ruleId").GetString() == rule);
        return result.GetProperty("level").GetString()!;
    }
}
