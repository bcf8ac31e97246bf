using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using TimeoutBudget.Analyzers.Model;

namespace TimeoutBudget.Analyzers;

/// <summary>
/// TB0006: this library's own API used against itself — a constant child budget that cannot fit its constant parent, a
/// cancellable call inside a budget scope that does not receive the budget's token (so it outlives the budget), and
/// <c>Budget.Start</c> inside the scope of an open budget (a separate root where a nested layer was meant).
/// </summary>
internal static class BudgetMisuseRule
{
    public static void Report(TypeTimeoutModel model, DiagnosticSink sink)
    {
        var types = model.Types;
        var scopes = new List<(ILocalSymbol Budget, IOperation Block, int Start)>();
        var ambient = new List<(string Name, IInvocationOperation Opened, IOperation Scope, int Start)>();
        var starts = new List<IInvocationOperation>();
        foreach (var call in model.Calls(CallRole.ReturnsBudget))
        {
            if (AmbientScope(call) is { } opened)
            {
                ambient.Add((opened.Name, call, opened.Scope, call.Syntax.Span.End));
            }

            if (!SymbolEqualityComparer.Default.Equals(call.TargetMethod.ContainingType, types.Budget))
            {
                continue;
            }

            if (call.TargetMethod.Name == "Child")
            {
                CheckChild(call, model, sink);
            }

            if (call.TargetMethod.Name == "Start")
            {
                starts.Add(call);
            }

            if (Roots.OfCreation(call) is ILocalSymbol local && Enclosing<IBlockOperation>(call) is { } block)
            {
                scopes.Add((local, block, call.Syntax.Span.End));
            }
        }

        foreach (var start in starts)
        {
            CheckStart(start, ambient, model, sink);
        }

        // Scopes are in source order, so a call inside nested scopes is reported for the outermost (the sink keeps the first report
        // at a location). Only the calls inside each scope's block are visited, not every call of the type once per scope.
        foreach (var scope in scopes)
        {
            foreach (var call in scope.Block.Descendants().OfType<IInvocationOperation>())
            {
                if (call.Syntax.SpanStart > scope.Start
                    && !SymbolEqualityComparer.Default.Equals(call.TargetMethod.ContainingType, types.Budget)
                    && Tokens.HowToPassToken(call, types) is { } fix)
                {
                    var properties = ImmutableDictionary<string, string?>.Empty.Add(TimeoutAnalyzer.TokenFixProperty, fix).Add("Token", scope.Budget.Name + ".Token");
                    sink.Report(Descriptors.BudgetMisuse, call.Syntax.GetLocation(),
                        $"{Comparison.SentenceStart(CallTimeouts.Describe(call))} runs inside budget '{scope.Budget.Name}' but does not receive {scope.Budget.Name}.Token, so it keeps running after the budget expires",
                        null, properties);
                }
            }
        }
    }

    private static void CheckChild(IInvocationOperation child, TypeTimeoutModel model, DiagnosticSink sink)
    {
        var timeout = child.Arguments.FirstOrDefault(a => a.Parameter?.Name == "timeout");
        var reserve = child.Arguments.FirstOrDefault(a => a.Parameter?.Name == "reserve");
        if (model.Evaluator.EvaluateArgument(timeout) is { IsFinite: true } asked && model.Evaluator.EvaluateArgument(reserve) is { IsFinite: true } kept
            && kept.Value > TimeSpan.Zero && kept.Value >= asked.Value)
        {
            // Two TimeSpans side by side: a reserve that takes the whole timeout is almost always the two written the wrong way round.
            sink.Report(Descriptors.BudgetMisuse, reserve!.Value,
                $"The reserve ({kept.Text}) is not shorter than the child's timeout ({asked.Text}), so Child throws ArgumentOutOfRangeException: the timeout and the reserve may be swapped",
                timeout!.Value);
            return;
        }

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

    /// <summary>
    /// A <c>Budget.Start</c> inside the scope of a budget that is <c>Budget.Current</c> there: it opens a separate root
    /// (not clamped, its children sized from its own timeout) where <c>Budget.Enter</c> or <c>Child</c> was almost always meant.
    /// </summary>
    private static void CheckStart(IInvocationOperation start, List<(string Name, IInvocationOperation Opened, IOperation Scope, int Start)> ambient,
        TypeTimeoutModel model, DiagnosticSink sink)
    {
        // The innermost enclosing scope: the budget that is Current at this call.
        (string Name, IInvocationOperation Opened, IOperation Scope, int Start)? enclosing = null;
        foreach (var scope in ambient)
        {
            if (!ReferenceEquals(scope.Opened, start) && start.Syntax.SyntaxTree == scope.Scope.Syntax.SyntaxTree && start.Syntax.SpanStart >= scope.Start
                && scope.Scope.Syntax.Span.Contains(start.Syntax.Span) && (enclosing is null || scope.Start > enclosing.Value.Start))
            {
                enclosing = scope;
            }
        }

        if (enclosing is not { } outer)
        {
            return;
        }

        var layer = start.Arguments.FirstOrDefault(a => a.Parameter?.Name == "layer")?.Value.ConstantValue is { HasValue: true, Value: string name } ? $"'{name}'" : "a budget";
        var timeout = start.Arguments.FirstOrDefault(a => a.Parameter?.Name == "timeout");
        var asked = model.Evaluator.EvaluateArgument(timeout) is { IsFinite: true } requested ? $" with its own {requested.Text}" : string.Empty;
        var line = outer.Opened.Syntax.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
        sink.Report(Descriptors.BudgetMisuse, start.Syntax.GetLocation(),
            $"Budget.Start opens {layer} as a separate root{asked} inside budget '{outer.Name}' (opened at line {line}): it is not clamped to what '{outer.Name}' has left, so its children are sized from its own timeout and it ends only when '{outer.Name}' does; use Budget.Enter or {outer.Name}.Child to open a nested layer",
            outer.Opened.Syntax.GetLocation());
    }

    /// <summary>
    /// For a call that opens a budget that becomes <c>Budget.Current</c> (not <c>DetachedChild</c>), its name and the code
    /// it is current in: a using statement's body, or the rest of the block that declares it.
    /// </summary>
    private static (string Name, IOperation Scope)? AmbientScope(IInvocationOperation call)
    {
        if (call.TargetMethod.Name is not ("Start" or "Enter" or "Child" or "FromDeadline" or "FromRemaining"))
        {
            return null;
        }

        var root = Roots.OfCreation(call);
        var name = root is ILocalSymbol local ? local.Name : call.TargetMethod.ContainingType.Name + "." + call.TargetMethod.Name;
        for (var current = call.Parent; current is not null; current = current.Parent)
        {
            switch (current)
            {
                case IUsingOperation { Body: { } body } @using when @using.Resources.Syntax.Span.Contains(call.Syntax.Span):
                    return (name, body);
                case IBlockOperation block when root is ILocalSymbol:
                    return (name, block);
                case IBlockOperation or IAnonymousFunctionOperation or ILocalFunctionOperation:
                    return null;
            }
        }

        return null;
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
