using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using TimeoutBudget.Analyzers.Model;

namespace TimeoutBudget.Analyzers;

/// <summary>
/// TB0001, TB0002 and TB0003: compares each inner timeout with the outer timeout on the same call path — a client's timeout
/// with the wait around the call or the token it receives, a linked token source with its parent, a Polly strategy with the
/// one added before it, the standard HTTP handler's attempt timeout with its total — and each retry schedule with the window
/// it must fit in.
/// </summary>
internal static class NestedTimeoutRule
{
    public static void Report(TypeTimeoutModel model, DiagnosticSink sink)
    {
        foreach (var wait in model.TimedWaits)
        {
            if (wait.Limit is { IsFinite: true } limit)
            {
                var outer = new OuterTimeout(limit, "the wait", isWait: true);
                foreach (var work in wait.Work)
                {
                    foreach (var call in WorkCalls(work, model))
                    {
                        CompareCall(call, outer, model, sink, wait.Wait);
                    }
                }
            }
        }

        foreach (var invocation in model.CallsTakingAToken)
        {
            foreach (var token in Tokens.Arguments(invocation, model.Types))
            {
                if (token.Kind == TokenKind.FromSource && CallTimeouts.Deadline(token.Source, model) is { } deadline)
                {
                    var tokenName = (token.Source as ISymbol)?.Name ?? "source";
                    CompareCall(invocation, new OuterTimeout(deadline, $"the token of '{tokenName}'", isWait: false), model, sink);
                }
                else if (token.Kind == TokenKind.Unknown && PipelineCallbacks.CallbackTimeout(token.Argument.Value, model) is { IsFinite: true } attempt)
                {
                    CompareCall(invocation, new OuterTimeout(attempt, "the Polly timeout strategy that cancels the callback's token", isWait: false), model, sink);
                }
            }
        }

        CompareWithRequestTimeouts(model, sink);
        CompareLinkedSources(model, sink);
        PollyPipelines.Check(model, sink);
        StandardResilience.Check(model, sink);
        HttpClientRegistrations.Check(model, sink);
    }

    /// <summary>
    /// The calls a waited-for task makes: those written in it, and — when it runs a method of this type (<c>_report ??=
    /// Task.Run(() => ReportAsync())</c>, awaited later through the field) — the calls in that method's body.
    /// </summary>
    private static IEnumerable<IInvocationOperation> WorkCalls(IOperation work, TypeTimeoutModel model)
    {
        var produced = WorkObservation.Produce(work, model);
        foreach (var call in CallTimeouts.CallsIn(produced))
        {
            yield return call;
            if (WorkObservation.HelperBody(call, model) is { } body && call.TargetMethod.MethodKind != MethodKind.LocalFunction)
            {
                foreach (var inner in body.Descendants().OfType<IInvocationOperation>())
                {
                    yield return inner;
                }
            }
        }
    }

    /// <param name="meetsAt">The wait around the call, when the outer timeout is a wait: that is where the two meet.</param>
    private static void CompareCall(IInvocationOperation call, OuterTimeout outer, TypeTimeoutModel model, DiagnosticSink sink, IOperation? meetsAt = null)
    {
        meetsAt ??= call;
        foreach (var inner in CallTimeouts.Inner(call, model))
        {
            var callName = CallTimeouts.Describe(call);
            var consequence = outer.IsWait
                ? $"the wait gives up after {outer.Duration.Text} while {callName}, allowed {inner.Duration.Text}, keeps running"
                : $"the token cancels {callName} after {outer.Duration.Text}, so its own {inner.Duration.Text} timeout never fires and the failure is reported as a cancellation instead of a timeout";
            if (Comparison.InnerNotShorter(inner.Duration, inner.Description, outer.Duration, outer.Description, consequence, sink, meetsAt))
            {
                continue;
            }

            if (inner.Retries is { Number: { } retries, Source: var retriesSource } && retries >= 1 && retries < RetrySchedule.MaxAttemptsLimit)
            {
                var schedule = new RetrySchedule((int)retries + 1);
                if (Comparison.ScheduleDoesNotFit(schedule, inner.Duration, outer.Duration, $"The retries of {inner.Description} (MaxErrorRetry = {retries})", outer.Description, retriesSource, sink))
                {
                    continue;
                }
            }

            Comparison.MarginTooSmall(inner.Duration, inner.Description, outer.Duration, outer.Description, sink, meetsAt);
        }
    }

    /// <summary>
    /// An endpoint's request timeout around what the handler calls with the request token: the call's own client timeout, or the
    /// timeout of a token source linked to the request token, must be shorter.
    /// </summary>
    private static void CompareWithRequestTimeouts(TypeTimeoutModel model, DiagnosticSink sink)
    {
        if (model.RequestTimeouts is not { } requests)
        {
            return;
        }

        foreach (var invocation in model.CallsTakingAToken)
        {
            var tokens = Tokens.Arguments(invocation, model.Types).Where(t => t.Kind != TokenKind.None).ToList();
            if (tokens.Count == 0 || requests.For(invocation, out var handler) is not { } request || handler is null)
            {
                continue;
            }

            var outer = new OuterTimeout(request.Duration, request.Description, isWait: false);
            foreach (var token in tokens)
            {
                if (requests.IsRequestToken(token.Argument.Value, handler))
                {
                    CompareCall(invocation, outer, model, sink);
                }
                else if (token.Kind == TokenKind.FromSource && token.Source is ILocalSymbol source
                    && model.GetDuration(source, TypeTimeoutModel.TimeoutSlot) is { IsFinite: true } own
                    && DurationEvaluator.SingleAssignedValue(source, invocation) is IInvocationOperation { TargetMethod.Name: "CreateLinkedTokenSource" } link
                    && ArgumentValues.Of(link).Any(parent => requests.IsRequestToken(parent, handler)))
                {
                    var innerDescription = $"the timeout of '{source.Name}'";
                    var consequence = $"the request timeout cancels the request token first, so the {own.Text} timeout of '{source.Name}' never fires and the failure is reported as a cancellation of the request";
                    if (!Comparison.InnerNotShorter(own, innerDescription, request.Duration, request.Description + " it is linked to", consequence, sink))
                    {
                        Comparison.MarginTooSmall(own, innerDescription, request.Duration, request.Description + " it is linked to", sink);
                    }
                }
            }
        }
    }

    private static void CompareLinkedSources(TypeTimeoutModel model, DiagnosticSink sink)
    {
        foreach (var key in model.Keys)
        {
            if (key.Path != TypeTimeoutModel.TimeoutSlot || KnownTypes.IsOrDerivesFrom(Roots.TypeOf(key.Root), model.Types.Budget)
                || model.GetDuration(key.Root, key.Path) is not { IsFinite: true } own)
            {
                continue;
            }

            var name = (key.Root as ISymbol)?.Name ?? "token source";
            foreach (var parent in model.LinkedParents(key.Root))
            {
                if (CallTimeouts.Deadline(parent, model) is not { } outer)
                {
                    continue;
                }

                var parentName = (parent as ISymbol)?.Name ?? "token source";
                var innerDescription = $"the timeout of '{name}'";
                var outerDescription = $"the timeout of '{parentName}' it is linked to";
                var consequence = $"'{parentName}' cancels first, so the {own.Text} timeout of '{name}' never fires";
                if (!Comparison.InnerNotShorter(own, innerDescription, outer, outerDescription, consequence, sink))
                {
                    Comparison.MarginTooSmall(own, innerDescription, outer, outerDescription, sink);
                }
            }
        }
    }
}
