using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using TimeoutBudget.Analyzers.Model;

namespace TimeoutBudget.Analyzers;

/// <summary>
/// TB0004: a timed wait (<c>WaitAsync(t)</c>, <c>Wait(t)</c>, <c>WhenAny(work, delay)</c>) gives up on work that cannot observe its
/// timeout — no token at all, a token the wait does not cancel, a delegate or helper that takes none, blocking code in
/// <c>Task.Run</c> — so the work keeps running after the caller has moved on (seed 000's pool starvation).
/// </summary>
internal static class AbandonedWorkRule
{
    public static void Report(TypeTimeoutModel model, DiagnosticSink sink)
    {
        foreach (var wait in model.TimedWaits)
        {
            var limit = wait.Limit is { } known ? $"after {known.Text}" : "after its timeout";
            foreach (var work in wait.Work)
            {
                if (WorkObservation.Check(work, wait, model) is not { } abandoned)
                {
                    continue;
                }

                // Reported where the wait meets the work: the work as the wait names it (the call itself when it is written in
                // place, else the local or field holding it), with the timeout and the call that started the work as
                // additional locations — the code fix passes its token there.
                var written = DurationEvaluator.SkipConversions(work);
                var inPlace = written.Syntax.Span.Contains(abandoned.At.Syntax.Span);
                var properties = abandoned.TokenFix is { } fix ? ImmutableDictionary<string, string?>.Empty.Add(TimeoutAnalyzer.TokenFixProperty, fix) : null;
                var related = inPlace
                    ? new[] { wait.Timeout.Syntax.GetLocation() }
                    : new[] { wait.Timeout.Syntax.GetLocation(), abandoned.At.Syntax.GetLocation() };
                sink.ReportWithLocations(
                    Descriptors.TimedWaitAbandonsWork,
                    inPlace ? abandoned.At.Syntax.GetLocation() : written.Syntax.GetLocation(),
                    $"The wait gives up {limit} while {abandoned.What}{Allowance(abandoned.At, model)}{(inPlace ? string.Empty : $" (started at {Duration.Describe(abandoned.At)})")} keeps running: it {abandoned.Why}",
                    related,
                    properties);
            }
        }

        PessimisticTimeouts(model, sink);
    }

    /// <summary>
    /// Polly v7's pessimistic timeout walks away from the delegate it executes when the time is up, and cancels the token it
    /// hands that delegate: a delegate that takes no token, or never passes it on, keeps running after the caller moved on.
    /// </summary>
    private static void PessimisticTimeouts(TypeTimeoutModel model, DiagnosticSink sink)
    {
        foreach (var execute in model.Calls(CallRole.PolicyExecution))
        {
            if (execute.TargetMethod is not { Name: "ExecuteAsync" or "Execute" or "ExecuteAndCaptureAsync" or "ExecuteAndCapture", ContainingNamespace: { Name: "Polly" } ns }
                || ns.ContainingNamespace?.IsGlobalNamespace != true || execute.Instance is null
                || execute.Arguments.FirstOrDefault(a => a.Parameter?.Ordinal == 0) is not { } action
                || PollyV7Policies.Layers(execute.Instance, model)?.FirstOrDefault(l => l.IsTimeout && l.IsPessimistic) is not { } timeout)
            {
                continue;
            }

            var work = DurationEvaluator.SkipConversions(action.Value);
            if (work is IDelegateCreationOperation creation)
            {
                work = creation.Target;
            }

            var token = work switch
            {
                IAnonymousFunctionOperation lambda => lambda.Symbol.Parameters.FirstOrDefault(p => model.Types.IsCancellationToken(p.Type)),
                IMethodReferenceOperation method => method.Method.Parameters.FirstOrDefault(p => model.Types.IsCancellationToken(p.Type)),
                _ => null,
            };
            string? why = null;
            if (token is null && work is IAnonymousFunctionOperation or IMethodReferenceOperation)
            {
                why = "gets no token, so nothing can stop it";
            }
            else if (token is not null && work is IAnonymousFunctionOperation body
                && !body.Body.Descendants().OfType<IParameterReferenceOperation>().Any(p => SymbolEqualityComparer.Default.Equals(p.Parameter, token)))
            {
                why = $"never passes on '{token.Name}', the token Polly cancels, so nothing stops it";
            }

            if (why is null)
            {
                continue;
            }

            var limit = timeout.Timeout is { } known ? $"after {known.Text}" : "after its timeout";
            sink.ReportWithLocations(
                Descriptors.TimedWaitAbandonsWork,
                action.Value.Syntax.GetLocation(),
                $"Polly's pessimistic timeout (set at {Duration.Describe(timeout.At)}) gives up {limit} while the delegate it executes keeps running: it {why}",
                new[] { timeout.At.Syntax.GetLocation() });
        }
    }

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
}
