using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// What every rule needs once per compilation — the known types, the declarations reader and its caches, the evaluator —
/// shared by all of this assembly's analyzers instead of resolved and indexed once by each.
/// </summary>
internal sealed class CompilationFacts
{
    private static readonly ConditionalWeakTable<Compilation, CompilationFacts> Shared = new();

    private CompilationFacts(Compilation compilation, AnalyzerOptions options, CancellationToken cancellationToken)
    {
        Types = KnownTypes.Resolve(compilation);
        GeneratedCode = new GeneratedCode(Types.Lookup, options, compilation.SyntaxTrees.Count());
        var declarations = new Declarations(compilation);
        var files = ConfigurationFiles.Read(compilation, options, cancellationToken);
        Evaluator = new DurationEvaluator(Types, declarations, files.IsEmpty ? null : new ConfigurationReads(Types.Lookup, files, declarations));
        RequestTimeouts = RequestTimeouts.Create(Types.Lookup, declarations, Evaluator);
        NamedClients = new NamedClients(declarations, Evaluator);
        CallRoles = new CallRoles(Types);
    }

    public CallRoles CallRoles { get; }

    public NamedClients NamedClients { get; }

    public GeneratedCode GeneratedCode { get; }

    /// <summary>ASP.NET Core request timeouts, when the compilation can have any.</summary>
    public RequestTimeouts? RequestTimeouts { get; }

    public KnownTypes Types { get; }

    public DurationEvaluator Evaluator { get; }

    /// <summary>The facts of a compilation; the options (its configuration files) are those of the first analyzer to ask.</summary>
    public static CompilationFacts For(Compilation compilation, AnalyzerOptions options, CancellationToken cancellationToken) =>
        Shared.GetValue(compilation, c => new CompilationFacts(c, options, cancellationToken));
}
