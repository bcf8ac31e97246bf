using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>Runs an analyzer over several source files of one project: values and registrations written in other files.</summary>
public static class MultiFile
{
    public static async Task AnalyzerAsync<TAnalyzer>(params string[] sources)
        where TAnalyzer : DiagnosticAnalyzer, new()
    {
        var test = new CSharpAnalyzerTest<TAnalyzer, DefaultVerifier> { ReferenceAssemblies = TestReferences.Net80 };
        for (var i = 0; i < sources.Length; i++)
        {
            test.TestState.Sources.Add(($"/0/File{i}.cs", sources[i]));
        }

        await test.RunAsync();
    }
}
