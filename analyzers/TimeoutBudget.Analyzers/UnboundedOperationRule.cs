using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using TimeoutBudget.Analyzers.Model;

namespace TimeoutBudget.Analyzers;

/// <summary>
/// TB0005: an outbound operation with no deadline at all — an HttpClient or SDK client explicitly given an infinite timeout and
/// called without a bounded token, or <c>Process.WaitForExit()</c> / <c>WaitForExitAsync()</c> with neither timeout nor token
/// (seed 003: runs stuck "running" forever). HttpClient's unwritten 100 s default is a deadline and is never reported.
/// </summary>
internal static class UnboundedOperationRule
{
    public static void Report(TypeTimeoutModel model, DiagnosticSink sink)
    {
        var types = model.Types;
        foreach (var call in model.Calls(CallRole.MaybeUnbounded))
        {
            var method = call.TargetMethod;
            string? problem = null;
            if (KnownTypes.IsOrDerivesFrom(method.ContainingType, types.Process))
            {
                if (method.Name == "WaitForExit" && call.Arguments.Length == 0 && !ExitedOnThisPath(call))
                {
                    problem = "Process.WaitForExit() waits forever if the process hangs: pass a timeout";
                }
                else if (method.Name == "WaitForExitAsync" && !Tokens.ReceivesAnyToken(call, types))
                {
                    problem = "Process.WaitForExitAsync() without a token waits forever if the process hangs: pass a token cancelled after a timeout";
                }
            }
            else if (call.Instance is { } receiver && IsOutbound(method) && !Tokens.ReceivesAnyToken(call, types))
            {
                var root = Roots.Of(receiver);
                if (KnownTypes.IsOrDerivesFrom(DurationEvaluator.SkipConversions(receiver).Type, types.HttpClient)
                    && model.GetDuration(root, "Timeout") is { IsInfinite: true } infinite)
                {
                    problem = $"{Comparison.SentenceStart(CallTimeouts.Describe(call))} has no deadline: HttpClient.Timeout is infinite (set at {infinite.Where}) and the call gets no token, so a server that never answers holds it forever";
                }
                else if (model.ConfigOf(root) is { } config && model.GetDuration(config, "Timeout") is { IsInfinite: true } sdkInfinite)
                {
                    problem = $"{Comparison.SentenceStart(CallTimeouts.Describe(call))} has no deadline: the SDK client's ClientConfig.Timeout is infinite (set at {sdkInfinite.Where}) and the call gets no token";
                }
            }

            if (problem is null || IsUnderTimedWait(call, model))
            {
                continue;
            }

            var fix = Tokens.HowToPassToken(call, types);
            var properties = fix is null ? null : ImmutableDictionary<string, string?>.Empty.Add(TimeoutAnalyzer.TokenFixProperty, fix);
            sink.Report(Descriptors.OperationWithoutDeadline, call.Syntax.GetLocation(), problem, null, properties);
        }
    }

    /// <summary>
    /// Whether every path to this <c>WaitForExit()</c> has already seen the process exit: inside <c>if (p.WaitForExit(t))</c> or
    /// <c>if (p.HasExited)</c>, in the else of their negation, or after <c>if (!p.WaitForExit(t)) { …; throw; }</c>. There the
    /// unbounded overload only drains the output handlers of a process that is gone.
    /// </summary>
    private static bool ExitedOnThisPath(IInvocationOperation call)
    {
        var process = Key(call.Instance);
        if (process is null)
        {
            return false;
        }

        IOperation current = call;
        for (var parent = call.Parent; parent is not null; current = parent, parent = parent.Parent)
        {
            if (parent is IConditionalOperation conditional && current != conditional.Condition
                && ExitTest(conditional.Condition, process) is { } exitedWhenTrue
                && (current == conditional.WhenTrue) == exitedWhenTrue)
            {
                return true;
            }

            if (parent is IBlockOperation block)
            {
                foreach (var earlier in block.Operations)
                {
                    if (earlier == current)
                    {
                        break;
                    }

                    // if (!p.WaitForExit(t)) { …; throw; } — the code after it runs only once the process has exited.
                    if (earlier is IConditionalOperation { WhenFalse: null } guard && ExitTest(guard.Condition, process) == false && Leaves(guard.WhenTrue)
                        || earlier is IExpressionStatementOperation { Operation: IAwaitOperation { Operation: IInvocationOperation { TargetMethod.Name: "WaitForExitAsync" } awaited } } && Key(awaited.Instance) == process)
                    {
                        return true;
                    }
                }
            }

            if (parent is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                break;
            }
        }

        return false;
    }

    /// <summary>True when the condition holds only if the process exited, false when it holds only if it did not, null otherwise.</summary>
    private static bool? ExitTest(IOperation condition, string process)
    {
        condition = DurationEvaluator.SkipConversions(condition);
        return condition switch
        {
            IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not => ExitTest(not.Operand, process) is { } inner ? !inner : null,
            IInvocationOperation { TargetMethod.Name: "WaitForExit", Arguments.Length: 1 } bounded when Key(bounded.Instance) == process => true,
            IPropertyReferenceOperation { Property.Name: "HasExited" } exited when Key(exited.Instance) == process => true,
            _ => null,
        };
    }

    private static bool Leaves(IOperation branch) =>
        branch.DescendantsAndSelf().Any(o => o is IThrowOperation or IReturnOperation);

    private static string? Key(IOperation? instance) =>
        instance is null ? null : DurationEvaluator.SkipConversions(instance).Syntax.ToString().Replace("this.", string.Empty);

    /// <summary>A call that goes out (<c>…Async</c>, <c>Send</c>): with a receiver, one of the calls this rule looks at.</summary>
    public static bool IsOutbound(IMethodSymbol method) =>
        !method.IsStatic && method.MethodKind == MethodKind.Ordinary && method.Name.EndsWith("Async", StringComparison.Ordinal) || method.Name == "Send";

    /// <summary>A call that a finite wait encloses has a deadline (whether the wait abandons it is TB0004's business).</summary>
    private static bool IsUnderTimedWait(IInvocationOperation call, TypeTimeoutModel model)
    {
        foreach (var wait in model.TimedWaits)
        {
            if (wait.Work.Any(w => w.Syntax.Span.Contains(call.Syntax.Span) && w.Syntax.SyntaxTree == call.Syntax.SyntaxTree) || wait.Work.Any(w => TimedWait.Unwrap(w) == call || TimedWait.Unwrap(w).Syntax.Span.Contains(call.Syntax.Span) && TimedWait.Unwrap(w).Syntax.SyntaxTree == call.Syntax.SyntaxTree))
            {
                return true;
            }
        }

        return false;
    }
}
