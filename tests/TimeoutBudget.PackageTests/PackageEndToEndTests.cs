namespace TimeoutBudget.PackageTests;

/// <summary>Consumes the packed package from a fresh project, as a user would.</summary>
[Collection(PackageCollection.Name)]
public sealed class PackageEndToEndTests(PackageFixture fixture)
{
    [Fact]
    public void The_package_carries_both_runtimes_the_readme_and_its_metadata()
    {
        var entries = fixture.PackageEntries();
        Assert.Contains("lib/net8.0/TimeoutBudget.dll", entries);
        Assert.Contains("lib/net10.0/TimeoutBudget.dll", entries);
        Assert.Contains("lib/net8.0/TimeoutBudget.xml", entries);
        Assert.Contains("README.md", entries);
        Assert.True(File.Exists(Path.ChangeExtension(fixture.Package, ".snupkg")), "symbols package missing");

        var nuspec = fixture.ReadPackageEntry("TimeoutBudget.nuspec");
        Assert.Contains("<license type=\"expression\">MIT</license>", nuspec);
        Assert.Contains("<readme>README.md</readme>", nuspec);
        Assert.Contains($"<version>{fixture.Version}</version>", nuspec);
        Assert.Contains("<repository type=\"git\"", nuspec);
    }

    [Fact]
    public void The_readme_pack_command_packs_every_package_and_nothing_else()
    {
        // The fixture packed with exactly this command; every project that is not a package says IsPackable=false.
        var readme = File.ReadAllText(Path.Combine(DotNet.RepositoryRoot, "README.md"));
        Assert.Contains($"dotnet {string.Join(' ', PackageFixture.PackCommand)} -o artifacts", readme, StringComparison.Ordinal);
        var packed = Directory.GetFiles(fixture.Feed, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(PackageFixture.PackageIds.Select(id => $"{id}.{fixture.Version}.nupkg").Order(StringComparer.Ordinal), packed);
    }

    [Fact]
    public void The_readme_shows_how_to_install_every_package()
    {
        var readme = File.ReadAllText(Path.Combine(DotNet.RepositoryRoot, "README.md"));
        foreach (var id in PackageFixture.PackageIds.Where(id => id != "TimeoutBudget.Cli"))
        {
            Assert.Contains($"dotnet add package {id}", readme, StringComparison.Ordinal);
        }

        Assert.Contains("dotnet tool install --global TimeoutBudget.Cli", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void The_package_carries_the_gate_switch_for_direct_and_transitive_references()
    {
        var entries = fixture.PackageEntries();
        Assert.Contains("build/TimeoutBudget.targets", entries);
        Assert.Contains("buildTransitive/TimeoutBudget.targets", entries);
    }

    [Fact]
    public void The_runtime_api_works_from_the_package()
    {
        var (code, output) = DotNet.Run(fixture.Consumer, PackageFixture.Bound, "run", "-c", "Release");
        Assert.True(code == 0, output);
        Assert.Contains("path=agent-wait/sdk", output);
        Assert.Matches(@"allotted=17\d(\.\d+)? s", output);
        Assert.Contains("misaligned=1", output);
        Assert.Contains("violations=1", output);
        Assert.Contains("outcome=Completed value=42", output);
    }
}
