using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using TimeoutBudget.Analyzers.Model;

namespace TimeoutBudget.Analyzers;

/// <summary>
/// TB0001–TB0006 in one pass: the per-type model of timeouts, tokens and calls is collected once and every rule reads it.
/// Registered alone, each rule would walk every assignment, creation and invocation of every type again.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class TimeoutRulesAnalyzer : TypeTimeoutAnalyzer
{
    private static readonly ImmutableArray<TypeTimeoutAnalyzer> Rules = ImmutableArray.Create<TypeTimeoutAnalyzer>(
        new NestedTimeoutAnalyzer(),
        new AbandonedWorkAnalyzer(),
        new UnboundedOperationAnalyzer(),
        new BudgetMisuseAnalyzer());

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        Rules.SelectMany(rule => rule.SupportedDiagnostics).ToImmutableArray();

    internal override bool IsRelevant(KnownTypes types)
    {
        foreach (var rule in Rules)
        {
            if (rule.IsRelevant(types))
            {
                return true;
            }
        }

        return false;
    }

    internal override void Report(TypeTimeoutModel model, SymbolAnalysisContext context, DiagnosticSink sink)
    {
        foreach (var rule in Rules)
        {
            if (rule.IsRelevant(model.Types))
            {
                rule.Report(model, context, sink);
            }
        }
    }
}
