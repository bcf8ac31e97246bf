using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// What every rule needs once per compilation — the known types, the declarations reader and its caches, the evaluator —
/// shared by all of this assembly's analyzers instead of resolved and indexed once by each.
/// </summary>
internal sealed class CompilationFacts
{
    private static readonly ConditionalWeakTable<Compilation, CompilationFacts> Shared = new();

    private CompilationFacts(Compilation compilation)
    {
        Types = KnownTypes.Resolve(compilation);
        Evaluator = new DurationEvaluator(Types, new Declarations(compilation));
    }

    public KnownTypes Types { get; }

    public DurationEvaluator Evaluator { get; }

    public static CompilationFacts For(Compilation compilation) => Shared.GetValue(compilation, c => new CompilationFacts(c));
}
