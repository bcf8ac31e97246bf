using System.Collections.Immutable;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>Runs an analyzer over several source files of one project: values and registrations written in other files.</summary>
public static class MultiFile
{
    /// <summary>
    /// What a service that still uses Polly v7 through IHttpClientFactory references: Polly (whose v8 package keeps the v7 API),
    /// Microsoft.Extensions.Http.Polly and Polly.Contrib.WaitAndRetry, the real packages resolved like the framework itself.
    /// </summary>
    public static readonly ReferenceAssemblies PollyV7Service = TestReferences.Net80.AddPackages(ImmutableArray.Create(
        new PackageIdentity("Microsoft.Extensions.Http.Polly", "8.0.8"),
        new PackageIdentity("Microsoft.Extensions.Http", "8.0.0"),
        new PackageIdentity("Microsoft.Extensions.DependencyInjection.Abstractions", "8.0.2"),
        new PackageIdentity("Polly", "7.2.4"),
        new PackageIdentity("Polly.Extensions.Http", "3.0.0"),
        new PackageIdentity("Polly.Contrib.WaitAndRetry", "1.1.1")));

    public static Task AnalyzerAsync<TAnalyzer>(params string[] sources)
        where TAnalyzer : DiagnosticAnalyzer, new() => AnalyzerAsync<TAnalyzer>(TestReferences.Net80WithPackages, sources);

    public static Task AnalyzerAsync<TAnalyzer>(ReferenceAssemblies references, params string[] sources)
        where TAnalyzer : DiagnosticAnalyzer, new() => AnalyzerAsync<TAnalyzer>(references, sources, Array.Empty<(string, string)>());

    /// <summary>Several sources with AdditionalFiles (appsettings.json) beside them.</summary>
    public static async Task AnalyzerAsync<TAnalyzer>(ReferenceAssemblies references, string[] sources, params (string Path, string Text)[] additionalFiles)
        where TAnalyzer : DiagnosticAnalyzer, new()
    {
        await TestReferences.PrepareAsync(references);
        var test = new CSharpAnalyzerTest<TAnalyzer, DefaultVerifier> { ReferenceAssemblies = references };
        for (var i = 0; i < sources.Length; i++)
        {
            test.TestState.Sources.Add(($"/0/File{i}.cs", sources[i]));
        }

        foreach (var file in additionalFiles)
        {
            test.TestState.AdditionalFiles.Add((file.Path, file.Text));
        }

        await test.RunAsync();
    }
}
