using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>The analyzer tests compile against the real third-party packages, never against hand-written look-alikes.</summary>
public class RealPackagesTests
{
    [Fact]
    public void No_test_source_declares_a_third_party_namespace()
    {
        var directory = Path.Combine(RobustnessTests.RepositoryRoot(), "tests", "TimeoutBudget.Analyzers.Tests");
        var declaration = new Regex(@"^\s*namespace\s+(Polly|Amazon|Microsoft\.Extensions|Grpc)\b", RegexOptions.Multiline);
        var offenders = Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Where(path => declaration.IsMatch(File.ReadAllText(path)))
            .ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public async Task The_default_references_hold_every_package_and_the_net8_library()
    {
        var names = (await TestReferences.ResolveAsync())
            .OfType<PortableExecutableReference>()
            .Select(reference => Path.GetFileNameWithoutExtension(reference.FilePath))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var expected in new[]
        {
            "Polly", "Polly.Core", "Microsoft.Extensions.Http", "Microsoft.Extensions.Http.Resilience", "Microsoft.Extensions.Http.Polly",
            "AWSSDK.Core", "AWSSDK.SQS", "AWSSDK.S3", "Grpc.Net.Client", "Microsoft.AspNetCore.Http.Abstractions", "TimeoutBudget",
        })
        {
            Assert.Contains(expected, names);
        }

        Assert.EndsWith(Path.Combine("net8.0", "TimeoutBudget.dll"), ((PortableExecutableReference)TestReferences.TimeoutBudgetLibrary).FilePath, StringComparison.Ordinal);
    }
}
