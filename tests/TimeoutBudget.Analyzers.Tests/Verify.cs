using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>Runs one analyzer (and optionally its fix) over markup sources with the stub third-party types added.</summary>
public static class Verify<TAnalyzer>
    where TAnalyzer : DiagnosticAnalyzer, new()
{
    public static Task AnalyzerAsync(string source, string? editorConfig = null, params (string Path, string Markup)[] additionalFiles) =>
        AnalyzerAsync(TestReferences.Net80, source, editorConfig, additionalFiles);

    public static async Task AnalyzerAsync(ReferenceAssemblies references, string source, string? editorConfig, params (string Path, string Markup)[] additionalFiles)
    {
        var test = new CSharpAnalyzerTest<TAnalyzer, DefaultVerifier>
        {
            ReferenceAssemblies = references,
            TestCode = source,
        };
        test.TestState.Sources.Add(("Stubs.cs", Stubs.Source));
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
        var test = new CSharpCodeFixTest<TAnalyzer, TCodeFix, DefaultVerifier>
        {
            ReferenceAssemblies = TestReferences.Net80,
            TestCode = source,
            FixedCode = fixedSource,
        };
        test.TestState.Sources.Add(("Stubs.cs", Stubs.Source));
        test.FixedState.Sources.Add(("Stubs.cs", Stubs.Source));
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
}
