using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// Runs one analyzer (and optionally its fix) over markup sources compiled against the real third-party packages the rules
/// understand (<see cref="TestReferences.Packages"/>) and this repository's own TimeoutBudget library.
/// </summary>
public static class Verify<TAnalyzer>
    where TAnalyzer : DiagnosticAnalyzer, new()
{
    public static Task AnalyzerAsync(string source, string? editorConfig = null, params (string Path, string Markup)[] additionalFiles) =>
        AnalyzerAsync(TestReferences.Net80WithPackages, source, editorConfig, additionalFiles);

    /// <summary>
    /// Against <paramref name="references"/>, which always gets the real packages added: a test that picks its framework
    /// (say <see cref="TestReferences.Net90"/>) still sees Polly, the AWS SDK and the resilience handler as the default does.
    /// </summary>
    public static async Task AnalyzerAsync(ReferenceAssemblies references, string source, string? editorConfig, params (string Path, string Markup)[] additionalFiles)
    {
        references = TestReferences.WithPackages(references);
        await TestReferences.PrepareAsync(references);
        var test = new CSharpAnalyzerTest<TAnalyzer, DefaultVerifier>
        {
            ReferenceAssemblies = references,
            TestCode = source,
        };
        test.TestState.AdditionalReferences.Add(TestReferences.TimeoutBudgetLibrary);
        AddConfig(test.TestState, editorConfig);
        foreach (var file in additionalFiles)
        {
            test.TestState.AdditionalFiles.Add((file.Path, file.Markup));
        }

        await test.RunAsync();
    }

    public static async Task CodeFixAsync<TCodeFix>(string source, string fixedSource, string? editorConfig = null)
        where TCodeFix : CodeFixProvider, new()
    {
        await TestReferences.PrepareAsync(TestReferences.Net80WithPackages);
        var test = new CSharpCodeFixTest<TAnalyzer, TCodeFix, DefaultVerifier>
        {
            ReferenceAssemblies = TestReferences.Net80WithPackages,
            TestCode = source,
            FixedCode = fixedSource,
        };
        test.TestState.AdditionalReferences.Add(TestReferences.TimeoutBudgetLibrary);
        test.FixedState.AdditionalReferences.Add(TestReferences.TimeoutBudgetLibrary);
        AddConfig(test.TestState, editorConfig);
        AddConfig(test.FixedState, editorConfig);
        await test.RunAsync();
    }

    private static void AddConfig(SolutionState state, string? editorConfig)
    {
        if (editorConfig is not null)
        {
            state.AnalyzerConfigFiles.Add(("/.editorconfig", "root = true\n\n[*]\n" + editorConfig + "\n"));
        }
    }
}

public static class TestReferences
{
    /// <summary>Microsoft.NETCore.App.Ref 8.0.33: the registry here does not serve the 8.0.0 that ReferenceAssemblies.Net.Net80 asks for.</summary>
    public static readonly ReferenceAssemblies Net80 = new("net8.0", new PackageIdentity("Microsoft.NETCore.App.Ref", "8.0.33"), Path.Combine("ref", "net8.0"));

    /// <summary>For the .NET 9 multi-argument <c>TimeSpan.From*</c> overloads.</summary>
    public static readonly ReferenceAssemblies Net90 = new("net9.0", new PackageIdentity("Microsoft.NETCore.App.Ref", "9.0.22"), Path.Combine("ref", "net9.0"));

    /// <summary>
    /// The real packages whose types the rules understand, at the versions Directory.Packages.props pins where it pins one,
    /// resolved from the package registry (and the NuGet global packages folder) with their dependencies, net8.0 assets.
    /// </summary>
    public static readonly ImmutableArray<PackageIdentity> Packages = ImmutableArray.Create(
        // ASP.NET Core's reference pack: AddRequestTimeouts, [RequestTimeout], Kestrel limits.
        new PackageIdentity("Microsoft.AspNetCore.App.Ref", "8.0.33"),
        // Polly v8 (Polly.Core) and the legacy v7 Policy API that Polly 8 still carries.
        new PackageIdentity("Polly", "8.9.1"),
        new PackageIdentity("Polly.Core", "8.9.1"),
        new PackageIdentity("Microsoft.Extensions.Http.Resilience", "10.11.0"),
        new PackageIdentity("Microsoft.Extensions.Http.Polly", "8.0.33"),
        new PackageIdentity("AWSSDK.SQS", "4.0.100.25"),
        new PackageIdentity("AWSSDK.S3", "4.0.104.12"),
        new PackageIdentity("Grpc.Net.Client", "2.85.0"));

    /// <summary><see cref="Net80"/> with the real <see cref="Packages"/>: what every analyzer and code-fix test compiles against by default.</summary>
    public static readonly ReferenceAssemblies Net80WithPackages = WithPackages(Net80);

    /// <summary><paramref name="references"/> with whichever of <see cref="Packages"/> it does not have yet.</summary>
    public static ReferenceAssemblies WithPackages(ReferenceAssemblies references)
    {
        var missing = Packages.Where(package => !references.Packages.Any(present => string.Equals(present.Id, package.Id, StringComparison.OrdinalIgnoreCase))).ToImmutableArray();
        return missing.IsEmpty ? references : references.AddPackages(missing);
    }

    /// <summary>
    /// This repository's TimeoutBudget library as a net8.0 assembly (the test project builds it beside its own output, in
    /// net8.0/): the net10.0 build the test project runs against references System.Runtime 10, which a net8.0 compilation rejects.
    /// </summary>
    public static readonly MetadataReference TimeoutBudgetLibrary = MetadataReference.CreateFromFile(TimeoutBudgetLibraryPath());

    /// <summary>Every reference of <see cref="Net80WithPackages"/> plus <see cref="TimeoutBudgetLibrary"/>: for tests that build a <c>CSharpCompilation</c> themselves.</summary>
    public static async Task<ImmutableArray<MetadataReference>> ResolveAsync(ReferenceAssemblies? references = null)
    {
        references ??= Net80WithPackages;
        await PrepareAsync(references);
        var resolved = await references.ResolveAsync(LanguageNames.CSharp, CancellationToken.None);
        return resolved.Add(TimeoutBudgetLibrary);
    }

    private static readonly ConcurrentDictionary<ReferenceAssemblies, Lazy<Task>> Prepared = new();

    /// <summary>
    /// Makes sure <paramref name="references"/> resolves to every package it names before a test uses it. On a machine whose
    /// test-packages folder (in the temp directory) does not have them yet, the testing library's first resolution silently
    /// leaves out each package it copies there from the NuGet global packages folder (measured with 1.1.4: Microsoft.Extensions.Http
    /// and the ASP.NET Core reference pack, so <c>AddHttpClient</c> did not bind); once copied, any later resolution finds them.
    /// So equivalent sets (the same packages in other orders, which the library caches separately) are resolved first, until
    /// one comes back complete — a package fetched from the feed (AWSSDK.Core) was still missing after one — and then the
    /// result is checked, so that a missing package fails here by name instead of as a compiler error in some test's source.
    /// </summary>
    public static Task PrepareAsync(ReferenceAssemblies references) =>
        references.Packages.IsEmpty ? Task.CompletedTask : Prepared.GetOrAdd(references, r => new Lazy<Task>(() => PrepareCoreAsync(r))).Value;

    private static async Task PrepareCoreAsync(ReferenceAssemblies references)
    {
        var expected = references.Packages
            .Select(package => package.Id == "Microsoft.AspNetCore.App.Ref" ? "Microsoft.AspNetCore.Http.Abstractions" : package.Id)
            .Append("Microsoft.Extensions.Http")
            .ToList();
        if (references.Packages.Any(package => package.Id.StartsWith("AWSSDK.", StringComparison.OrdinalIgnoreCase)))
        {
            // A dependency, not named in the set: on an empty test-packages folder it is fetched (the AWS packages' own
            // range asks for a newer one than the global packages folder has) and was left out of the first two
            // resolutions of a clean machine, failing every AWS test with CS0012 (issue 15 session, 2 December 2026).
            expected.Add("AWSSDK.Core");
        }

        // Equivalent sets in other orders until one resolves completely: only then is every package in the folder, and
        // the real set, resolved once after that, is complete too.
        var packages = references.Packages;
        for (var shift = 1; shift <= Math.Max(packages.Length - 1, 1) && shift <= 4; shift++)
        {
            var reordered = packages.Skip(shift).Concat(packages.Take(shift)).Reverse().ToImmutableArray();
            var warmUp = references.WithPackages(reordered);
            if (Missing(expected, await warmUp.ResolveAsync(LanguageNames.CSharp, CancellationToken.None)).Count == 0)
            {
                break;
            }
        }

        var resolved = await references.ResolveAsync(LanguageNames.CSharp, CancellationToken.None);
        var missing = Missing(expected, resolved);
        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"The reference assemblies for {references.TargetFramework} came without {string.Join(", ", missing)}; resolved: {string.Join(", ", Names(resolved).Order(StringComparer.Ordinal))}");
        }
    }

    private static HashSet<string> Names(ImmutableArray<MetadataReference> resolved) =>
        resolved.OfType<PortableExecutableReference>()
            .Select(reference => Path.GetFileNameWithoutExtension(reference.FilePath)!)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static List<string> Missing(IEnumerable<string> expected, ImmutableArray<MetadataReference> resolved)
    {
        var names = Names(resolved);
        return expected.Where(name => !names.Contains(name)).ToList();
    }

    private static string TimeoutBudgetLibraryPath()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "net8.0", "TimeoutBudget.dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException("The net8.0 build of TimeoutBudget was not copied beside the tests (see TimeoutBudget.Analyzers.Tests.csproj).", path);
    }
}
