using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>Why waited-for work cannot observe the wait's timeout, where to say so, and how a token could be passed.</summary>
internal readonly struct Abandonment
{
    public Abandonment(IOperation at, string what, string why, string? tokenFix)
    {
        At = at;
        What = what;
        Why = why;
        TokenFix = tokenFix;
    }

    public IOperation At { get; }

    /// <summary>The work, as a message names it ("the client.GetAsync call").</summary>
    public string What { get; }

    /// <summary>Why it cannot stop: no token, a token this timeout does not cancel, blocking code.</summary>
    public string Why { get; }

    /// <summary>How <c>PassTimeoutTokenCodeFix</c> can pass a token, when it can.</summary>
    public string? TokenFix { get; }
}

/// <summary>
/// Answers the question TB0004 asks: can the work a timed wait gives up on observe that timeout? It can when it receives a
/// token of a source that has a deadline of its own or is cancelled in this type, a budget's token, or when the code awaits
/// the work again on the path where the wait gave up. Everything else keeps running: a call with no token at all, a token
/// the wait does not cancel (the caller's), a delegate or helper that takes none, blocking code in <c>Task.Run</c>.
/// </summary>
internal static class WorkObservation
{
    private const int MaxDepth = 6;

    public static Abandonment? Check(IOperation work, TimedWait wait, TypeTimeoutModel model) =>
        AwaitedWhereTheWaitGaveUp(wait, work) ? null : Check(Produce(work, model), model, 0);

    /// <summary>What produced a waited-for task: through locals, <c>ConfigureAwait</c>, and a field or property stored once in this type.</summary>
    public static IOperation Produce(IOperation work, TypeTimeoutModel model)
    {
        var produced = TimedWait.Unwrap(work);
        for (var depth = 0; depth < MaxDepth && produced is IFieldReferenceOperation or IPropertyReferenceOperation; depth++)
        {
            if (Roots.Of(produced) is not ISymbol holder || model.StoredValue(holder) is not { } stored)
            {
                break;
            }

            produced = TimedWait.Unwrap(stored);
        }

        return produced;
    }

    private static Abandonment? Check(IOperation produced, TypeTimeoutModel model, int depth)
    {
        if (depth > MaxDepth || produced is not IInvocationOperation call)
        {
            // A parameter, a TaskCompletionSource's task, anything unknown: the producer is not in view, so nothing is said.
            return null;
        }

        var types = model.Types;
        var method = call.TargetMethod;
        if (TimedWait.TaskRunBody(call, types, out var run) is { } body)
        {
            if (!ReturnsTask(body, types))
            {
                return ObservesTiedToken(body, model)
                    ? null
                    : new Abandonment(run!, $"the blocking code in {method.ContainingType.Name}.{method.Name}", LongRunning(run!)
                        ? "runs on a dedicated thread that a token cannot stop, and every abandoned call keeps its thread until it finishes"
                        : "runs on a pool thread that a token cannot stop, and every abandoned call holds a thread until it finishes", null);
            }

            if (ReturnedCall(body) is { } returned)
            {
                return Check(returned, model, depth + 1);
            }

            return ObservesTiedToken(body, model)
                ? null
                : new Abandonment(run!, $"the asynchronous code in {method.ContainingType.Name}.{method.Name}", "observes no token that this timeout cancels", null);
        }

        if (KnownTypes.IsOrDerivesFrom(method.ContainingType, types.Task))
        {
            if (method.Name is "WhenAll" or "WhenAny")
            {
                foreach (var inner in ArgumentValues.Of(call))
                {
                    if (Check(TimedWait.Unwrap(inner), model, depth + 1) is { } abandoned)
                    {
                        return abandoned;
                    }
                }
            }

            // Task.Delay, Task.FromResult, ContinueWith…: nothing that runs on its own.
            return null;
        }

        var what = method.MethodKind == MethodKind.DelegateInvoke
            ? $"the delegate '{Shorten(call.Instance?.Syntax.ToString() ?? method.ContainingType.Name)}'"
            : CallTimeouts.Describe(call);
        string? unrelated = null;
        var anyToken = false;
        foreach (var token in Tokens.Arguments(call, types))
        {
            anyToken = true;
            switch (token.Kind)
            {
                case TokenKind.FromSource when IsTied(token.Source, model):
                    return null;
                case TokenKind.FromSource:
                    unrelated ??= $"observes the token of '{(token.Source as ISymbol)?.Name ?? "its source"}', which nothing cancels when the wait gives up";
                    break;
                case TokenKind.Unknown:
                    unrelated ??= $"observes '{Shorten(token.Argument.Value.Syntax.ToString())}', which the wait does not cancel when it gives up";
                    break;
            }
        }

        if (unrelated is not null)
        {
            return new Abandonment(call, what, unrelated, null);
        }

        if (Tokens.HowToPassToken(call, types) is { } fix)
        {
            return new Abandonment(call, what, anyToken ? "takes a CancellationToken but was given none tied to that timeout" : "could take a CancellationToken but was given none", fix);
        }

        if (anyToken)
        {
            return null;
        }

        if (HelperBody(call, model) is { } helperBody && ObservesTiedToken(helperBody, model))
        {
            return null;
        }

        return new Abandonment(call, what, "takes no CancellationToken, so nothing can stop it when the wait gives up", null);
    }

    /// <summary>A source with a deadline of its own, or one this type cancels, stops the work when the time is up.</summary>
    private static bool IsTied(object? source, TypeTimeoutModel model) =>
        source is not null
        && (KnownTypes.IsOrDerivesFrom(Roots.TypeOf(source), model.Types.Budget) || model.HasTimeout(source) || model.IsCancelled(source));

    private static bool ObservesTiedToken(IOperation body, TypeTimeoutModel model)
    {
        foreach (var operation in body.DescendantsAndSelf())
        {
            if (operation is IPropertyReferenceOperation { Property.Name: "Token" } token
                && Tokens.ClassifyValue(token, model.Types, out var source) == TokenKind.FromSource && IsTied(source, model))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The body of the method a call runs when it is written in this compilation: a local function, or a method of this type
    /// (what it reads — a field's token source that the type cancels — is what the model knows about).
    /// </summary>
    public static IOperation? HelperBody(IInvocationOperation call, TypeTimeoutModel model)
    {
        if (call.TargetMethod.MethodKind != MethodKind.LocalFunction)
        {
            // The model's type is the one the call is written in (asking the semantic model for the enclosing symbol binds the member again).
            return call.TargetMethod.MethodKind == MethodKind.Ordinary
                && SymbolEqualityComparer.Default.Equals(call.TargetMethod.ContainingType?.OriginalDefinition, model.Type.OriginalDefinition)
                ? model.Evaluator.Declarations?.Body(call.TargetMethod.OriginalDefinition)
                : null;
        }

        var root = (IOperation)call;
        while (root.Parent is not null)
        {
            root = root.Parent;
        }

        return root.Descendants().OfType<ILocalFunctionOperation>()
            .FirstOrDefault(f => SymbolEqualityComparer.Default.Equals(f.Symbol, call.TargetMethod.OriginalDefinition))?.Body;
    }

    private static bool LongRunning(IInvocationOperation start) =>
        start.Arguments.Any(a => a.Value.Syntax.ToString().Contains("LongRunning"));

    private static bool ReturnsTask(IOperation body, KnownTypes types) => body switch
    {
        IAnonymousFunctionOperation lambda => lambda.Symbol.IsAsync || types.IsTask(lambda.Symbol.ReturnType),
        IMethodReferenceOperation method => types.IsTask(method.Method.ReturnType),
        _ => true,
    };

    private static IInvocationOperation? ReturnedCall(IOperation body) =>
        body is IAnonymousFunctionOperation { Symbol.IsAsync: false, Body.Operations.Length: 1 } lambda
            && lambda.Body.Operations[0] is IReturnOperation { ReturnedValue: { } value }
            ? TimedWait.Unwrap(value) as IInvocationOperation
            : null;

    /// <summary>
    /// Whether the code comes back for the work on the path where the wait gave up (<c>if (finished == delay) Notify(); await work;</c>):
    /// then nothing is abandoned. A later await that only the success path reaches (the timeout path threw or returned) does not count.
    /// </summary>
    private static bool AwaitedWhereTheWaitGaveUp(TimedWait wait, IOperation work)
    {
        var key = ReferenceKey(work);
        if (key is null)
        {
            return false;
        }

        var waitStatement = StatementOf(wait.Wait);
        var root = (IOperation)wait.Wait;
        while (root.Parent is not null)
        {
            root = root.Parent;
        }

        var waitEnd = wait.Wait.Syntax.Span.End;
        var resultNames = new HashSet<string>(StringComparer.Ordinal);
        if (waitStatement is IVariableDeclarationGroupOperation group)
        {
            foreach (var declarator in group.Declarations.SelectMany(d => d.Declarators))
            {
                resultNames.Add(declarator.Symbol.Name);
            }
        }

        foreach (var operation in root.Descendants())
        {
            if (operation.Syntax.SpanStart <= waitEnd || operation.Syntax.SyntaxTree != wait.Wait.Syntax.SyntaxTree || !IsComingBackFor(operation, key))
            {
                continue;
            }

            if (!wait.ReturnsOnTimeout)
            {
                if (ReachedAfterTheWaitThrew(operation, wait.Wait))
                {
                    return true;
                }

                continue;
            }

            if (!TimeoutPathExitsBefore(root, wait.Wait, waitStatement, resultNames, operation))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsComingBackFor(IOperation operation, string key) => operation switch
    {
        IAwaitOperation awaited => ReferenceKey(awaited.Operation) == key,
        IInvocationOperation { TargetMethod.Name: "Wait" or "GetResult", Instance: { } instance } => ReferenceKey(instance) == key,
        IPropertyReferenceOperation { Property.Name: "Result", Instance: { } instance } => ReferenceKey(instance) == key,
        _ => false,
    };

    /// <summary>A name for a task held in a local, field or property (<c>work</c>, <c>lifetime.Task</c>); null for anything computed.</summary>
    private static string? ReferenceKey(IOperation operation)
    {
        operation = DurationEvaluator.SkipConversions(operation);
        while (operation is IInvocationOperation { TargetMethod.Name: "ConfigureAwait" or "GetAwaiter", Instance: { } inner })
        {
            operation = DurationEvaluator.SkipConversions(inner);
        }

        return operation is ILocalReferenceOperation or IFieldReferenceOperation or IPropertyReferenceOperation or IParameterReferenceOperation
            ? operation.Syntax.ToString().Replace("this.", string.Empty).Replace(" ", string.Empty)
            : null;
    }

    private static bool TimeoutPathExitsBefore(IOperation root, IOperation wait, IOperation? waitStatement, HashSet<string> resultNames, IOperation comingBack)
    {
        var from = waitStatement?.Syntax.SpanStart ?? wait.Syntax.SpanStart;
        foreach (var conditional in root.Descendants().OfType<IConditionalOperation>())
        {
            var span = conditional.Syntax.Span;
            if (span.Start < from || span.End > comingBack.Syntax.SpanStart || conditional.Syntax.SyntaxTree != wait.Syntax.SyntaxTree)
            {
                continue;
            }

            var testsTheWait = conditional.Condition.Syntax.Span.Contains(wait.Syntax.Span)
                || conditional.Condition.DescendantsAndSelf().OfType<ILocalReferenceOperation>().Any(l => resultNames.Contains(l.Local.Name));
            if (testsTheWait && (Exits(conditional.WhenTrue) || Exits(conditional.WhenFalse)))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Exits(IOperation? branch) =>
        branch is not null && branch.DescendantsAndSelf().Any(o => o is IThrowOperation or IReturnOperation || o is IBranchOperation { BranchKind: BranchKind.Break or BranchKind.Continue });

    /// <summary>A wait that throws on timeout comes back to the work only in a catch around it, or after a catch that does not leave.</summary>
    private static bool ReachedAfterTheWaitThrew(IOperation operation, IOperation wait)
    {
        for (var current = wait.Parent; current is not null; current = current.Parent)
        {
            if (current is not ITryOperation attempt || !attempt.Body.Syntax.Span.Contains(wait.Syntax.Span))
            {
                continue;
            }

            foreach (var handler in attempt.Catches)
            {
                if (handler.Syntax.Span.Contains(operation.Syntax.Span)
                    || (operation.Syntax.SpanStart > attempt.Syntax.Span.End && !Exits(handler.Handler)))
                {
                    return true;
                }
            }

            if (attempt.Finally is { } finallyBlock && finallyBlock.Syntax.Span.Contains(operation.Syntax.Span))
            {
                return true;
            }
        }

        return false;
    }

    private static IOperation? StatementOf(IOperation operation)
    {
        for (var current = operation; current is not null; current = current.Parent)
        {
            if (current.Parent is IBlockOperation)
            {
                return current;
            }
        }

        return null;
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text.Substring(0, 57) + "...";
}
