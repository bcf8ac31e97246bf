using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using TimeoutBudget.Analyzers.Model;

namespace TimeoutBudget.Analyzers;

/// <summary>
/// TB0004: a timed wait (<c>WaitAsync(t)</c>, <c>Wait(t)</c>, <c>WhenAny(work, Delay(t))</c>) over work that could take a token
/// but got none, or over blocking code in <c>Task.Run</c>: the wait gives up, the work keeps running (seed 000's pool starvation).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class AbandonedWorkAnalyzer : TypeTimeoutAnalyzer
{
    public const string TokenFixProperty = "TokenFix";

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(Descriptors.TimedWaitAbandonsWork);

    private protected override bool IsRelevant(KnownTypes types) => types.Task is not null;

    private protected override void Report(TypeTimeoutModel model, SymbolAnalysisContext context, DiagnosticSink sink)
    {
        foreach (var invocation in model.Invocations)
        {
            if (TimedWait.TryCreate(invocation, model) is not { } wait)
            {
                continue;
            }

            var limit = wait.Limit is { } known ? $"after {known.Text}" : "after its timeout";
            foreach (var work in wait.Work)
            {
                var produced = TimedWait.Unwrap(work);
                if (produced is not IInvocationOperation call)
                {
                    continue;
                }

                if (TimedWait.TaskRunBody(call, model.Types, out var run) is { } body)
                {
                    if (!ReturnsTask(body, model))
                    {
                        var allowed = Allowance(body, model);
                        sink.Report(Descriptors.TimedWaitAbandonsWork, run!, $"The wait gives up {limit} while the blocking code in Task.Run{allowed} keeps running on a pool thread: a token cannot stop it, and every abandoned call holds a thread until it finishes");
                        continue;
                    }

                    // Task.Run(() => client.CallAsync(…)): the asynchronous call it returns is the work.
                    if (ReturnedCall(body) is not { } returned)
                    {
                        continue;
                    }

                    call = returned;
                }

                if (IsDelay(call, model) || Tokens.HowToPassToken(call, model.Types) is not { } tokenFix)
                {
                    continue;
                }

                var properties = ImmutableDictionary<string, string?>.Empty.Add(TokenFixProperty, tokenFix);
                sink.Report(
                    Descriptors.TimedWaitAbandonsWork,
                    call.Syntax.GetLocation(),
                    $"The wait gives up {limit} while {CallTimeouts.Describe(call)}{Allowance(call, model)} keeps running: it takes a CancellationToken but was given none tied to that timeout",
                    wait.Timeout.Syntax.GetLocation(),
                    properties);
            }
        }
    }

    private static bool ReturnsTask(IOperation body, TypeTimeoutModel model) => body switch
    {
        IAnonymousFunctionOperation lambda => lambda.Symbol.IsAsync || model.Types.IsTask(lambda.Symbol.ReturnType),
        IMethodReferenceOperation method => model.Types.IsTask(method.Method.ReturnType),
        _ => true,
    };

    private static IInvocationOperation? ReturnedCall(IOperation body) =>
        body is IAnonymousFunctionOperation { Symbol.IsAsync: false, Body.Operations.Length: 1 } lambda
            && lambda.Body.Operations[0] is IReturnOperation { ReturnedValue: { } value }
            ? TimedWait.Unwrap(value) as IInvocationOperation
            : null;

    private static string Allowance(IOperation work, TypeTimeoutModel model)
    {
        foreach (var call in CallTimeouts.CallsIn(work))
        {
            foreach (var inner in CallTimeouts.Inner(call, model))
            {
                return $" (allowed {inner.Duration.Text} by {inner.Description})";
            }
        }

        return string.Empty;
    }

    private static bool IsDelay(IInvocationOperation call, TypeTimeoutModel model) =>
        call.TargetMethod.Name == "Delay" && KnownTypes.IsOrDerivesFrom(call.TargetMethod.ContainingType, model.Types.Task);
}
