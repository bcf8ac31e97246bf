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
    public void Warnaserror_on_the_rule_fails_the_build()
    {
        var (code, output) = DotNet.Run(fixture.Consumer, PackageFixture.Bound, "build", "--no-incremental", "-warnaserror:TB0001");
        Assert.NotEqual(0, code);
        Assert.Contains("error TB0001", output);
        Assert.Contains(ExpectedLocation, output);
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
}
