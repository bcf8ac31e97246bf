using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using TimeoutBudget.Analyzers.Model;

namespace TimeoutBudget.Analyzers;

/// <summary>
/// TB0006: this library's own API used against itself — a constant child budget that cannot fit its constant parent, and a
/// cancellable call inside a budget scope that does not receive the budget's token (so it outlives the budget).
/// </summary>
internal static class BudgetMisuseRule
{
    public static void Report(TypeTimeoutModel model, DiagnosticSink sink)
    {
        var types = model.Types;
        var scopes = new List<(ILocalSymbol Budget, IOperation Block, int Start)>();
        foreach (var call in model.Invocations)
        {
            if (!SymbolEqualityComparer.Default.Equals(call.TargetMethod.ContainingType, types.Budget))
            {
                continue;
            }

            if (call.TargetMethod.Name == "Child")
            {
                CheckChild(call, model, sink);
            }

            if (call.TargetMethod.ReturnType is { } returned && SymbolEqualityComparer.Default.Equals(returned, types.Budget)
                && Roots.OfCreation(call) is ILocalSymbol local && Enclosing<IBlockOperation>(call) is { } block)
            {
                scopes.Add((local, block, call.Syntax.Span.End));
            }
        }

        foreach (var call in model.Invocations)
        {
            foreach (var scope in scopes)
            {
                if (call.Syntax.SyntaxTree == scope.Block.Syntax.SyntaxTree && call.Syntax.SpanStart > scope.Start && scope.Block.Syntax.Span.Contains(call.Syntax.Span)
                    && !SymbolEqualityComparer.Default.Equals(call.TargetMethod.ContainingType, types.Budget)
                    && Tokens.HowToPassToken(call, types) is { } fix)
                {
                    var properties = ImmutableDictionary<string, string?>.Empty.Add(TimeoutAnalyzer.TokenFixProperty, fix).Add("Token", scope.Budget.Name + ".Token");
                    sink.Report(Descriptors.BudgetMisuse, call.Syntax.GetLocation(),
                        $"{Comparison.SentenceStart(CallTimeouts.Describe(call))} runs inside budget '{scope.Budget.Name}' but does not receive {scope.Budget.Name}.Token, so it keeps running after the budget expires",
                        null, properties);
                    break;
                }
            }
        }
    }

    private static void CheckChild(IInvocationOperation child, TypeTimeoutModel model, DiagnosticSink sink)
    {
        var timeout = child.Arguments.FirstOrDefault(a => a.Parameter?.Name == "timeout");
        if (model.Evaluator.EvaluateArgument(timeout) is not { IsFinite: true } requested
            || CallTimeouts.Deadline(Roots.Of(child.Instance), model) is not { } parent || requested.Value < parent.Value)
        {
            return;
        }

        var parentName = CallTimeouts.Name(child.Instance!) ?? "the parent";
        sink.Report(Descriptors.BudgetMisuse, requested.Source,
            $"The child budget asks for {requested.Text} (set at {requested.Where}) but its parent '{parentName}' has only {parent.Text} (set at {parent.Where}): the child is cut to what the parent has left and its own timeout never fires",
            parent.Source);
    }

    private static T? Enclosing<T>(IOperation operation)
        where T : class, IOperation
    {
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            if (current is T found)
            {
                return found;
            }
        }

        return null;
    }
}
