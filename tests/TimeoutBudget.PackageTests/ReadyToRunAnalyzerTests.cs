using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace TimeoutBudget.PackageTests;

/// <summary>
/// The analyzer precompiled (ReadyToRun) for the hosts where builds run on .NET: shipped beside the IL image, handed to the
/// compiler by the package's build targets on a matching host, and left out on request.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class ReadyToRunAnalyzerTests(PackageFixture fixture)
{
    // The images are made where this repository is packed with crossgen2 for its host (analyzers/TimeoutBudget.Analyzers/ReadyToRun.props).
    private static readonly bool PackedOnLinuxX64 = RuntimeInformation.RuntimeIdentifier == "linux-x64";

    private static readonly string CompilerRuntime = $"net{Environment.Version.Major}.0";

    [Fact]
    public void The_package_ships_ReadyToRun_images_for_NET_8_and_10_on_linux_x64_and_win_x64_with_the_code_fixes_beside_them_and_keeps_the_IL_analyzer()
    {
        Assert.False(IsReadyToRun(fixture.ReadPackageBytes("analyzers/dotnet/cs/TimeoutBudget.Analyzers.dll")));
        var entries = fixture.PackageEntries();
        if (!PackedOnLinuxX64)
        {
            Assert.DoesNotContain(entries, e => e.StartsWith("tools/r2r/", StringComparison.Ordinal));
            return;
        }

        foreach (var image in new[] { "net8.0/linux-x64", "net8.0/win-x64", "net10.0/linux-x64", "net10.0/win-x64" })
        {
            Assert.True(IsReadyToRun(fixture.ReadPackageBytes($"tools/r2r/{image}/TimeoutBudget.Analyzers.dll")), image);
            Assert.Equal(
                fixture.ReadPackageBytes("analyzers/dotnet/cs/TimeoutBudget.CodeFixes.dll"),
                fixture.ReadPackageBytes($"tools/r2r/{image}/TimeoutBudget.CodeFixes.dll"));
        }

        // Nothing under analyzers/ but the IL pair: NuGet hands every assembly there to the compiler.
        Assert.Equal(2, entries.Count(e => e.StartsWith("analyzers/", StringComparison.Ordinal) && e.EndsWith(".dll", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_dotnet_build_on_a_matching_host_compiles_with_the_ReadyToRun_analyzer_for_its_runtime_and_still_reports()
    {
        var consumer = fixture.CreateConsumer("consumer-r2r");
        var (code, output) = DotNet.Run(consumer, PackageFixture.Bound, "build", "-v:n");
        Assert.True(code == 0, output);
        Assert.Contains("warning TB0001", output);
        var compilerLine = Assert.Single(output.Split('\n'), l => l.Contains("/analyzer:", StringComparison.Ordinal) && l.Contains("TimeoutBudget.Analyzers.dll", StringComparison.Ordinal));
        if (PackedOnLinuxX64)
        {
            // The compiler runs on the runtime the SDK bundles, the one running these tests.
            Assert.Contains($"tools/r2r/{CompilerRuntime}/linux-x64/TimeoutBudget.Analyzers.dll", compilerLine.Replace('\\', '/'));
            Assert.Contains($"tools/r2r/{CompilerRuntime}/linux-x64/TimeoutBudget.CodeFixes.dll", compilerLine.Replace('\\', '/'));
            Assert.DoesNotContain("analyzers/dotnet/cs/TimeoutBudget", compilerLine.Replace('\\', '/'));
        }
    }

    [Fact]
    public void The_opt_out_property_keeps_the_IL_analyzer()
    {
        var items = AnalyzerPaths(fixture.Consumer, "-p:TimeoutBudgetReadyToRunAnalyzer=false");
        Assert.Equal(2, items.Count);
        Assert.All(items, path => Assert.Contains("analyzers/dotnet/cs/", path));
        if (PackedOnLinuxX64)
        {
            var precompiled = AnalyzerPaths(fixture.Consumer);
            Assert.Equal(2, precompiled.Count);
            Assert.All(precompiled, path => Assert.Contains($"tools/r2r/{CompilerRuntime}/linux-x64/", path));
        }
    }

    /// <summary>The package's analyzer assemblies a build would hand the compiler, as MSBuild resolves them.</summary>
    private static List<string> AnalyzerPaths(string project, params string[] properties)
    {
        var (code, output) = DotNet.Run(project, PackageFixture.Bound, ["msbuild", "-restore", "-t:ResolveLockFileAnalyzers", "-getItem:Analyzer", .. properties]);
        Assert.True(code == 0, output);
        using var json = JsonDocument.Parse(output[output.IndexOf('{', StringComparison.Ordinal)..]);
        return json.RootElement.GetProperty("Items").GetProperty("Analyzer").EnumerateArray()
            .Select(i => i.GetProperty("FullPath").GetString()!.Replace('\\', '/'))
            .Where(p => Path.GetFileName(p).StartsWith("TimeoutBudget.", StringComparison.Ordinal))
            .ToList();
    }

    private static bool IsReadyToRun(byte[] image)
    {
        using var reader = new PEReader(new MemoryStream(image));
        return reader.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0;
    }
}
