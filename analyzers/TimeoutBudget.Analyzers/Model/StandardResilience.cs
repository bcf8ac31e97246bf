using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>Microsoft.Extensions.Http.Resilience's standard handler: the attempt timeout sits inside the total request timeout, with the retry between them.</summary>
internal static class StandardResilience
{
    public static void Check(TypeTimeoutModel model, DiagnosticSink sink)
    {
        CheckAgainstHttpClientTimeout(model, sink);
        foreach (var options in model.RootsOfType(model.Types.HttpStandardResilienceOptions).ToList())
        {
            // Both must be written: a default the user did not write is not reported as if they had.
            if (model.GetDuration(options, "TotalRequestTimeout.Timeout") is not { IsFinite: true } total
                || model.GetDuration(options, "AttemptTimeout.Timeout") is not { IsFinite: true } attempt)
            {
                continue;
            }

            var name = (options as ISymbol)?.Name ?? "options";
            var innerDescription = $"{name}.AttemptTimeout";
            var outerDescription = $"{name}.TotalRequestTimeout";
            var consequence = $"the total request timeout ends every request after {total.Text}, so the attempt timeout never fires and no retry ever starts";
            if (Comparison.InnerNotShorter(attempt, innerDescription, total, outerDescription, consequence, sink))
            {
                continue;
            }

            if (model.Get(options, "Retry.MaxRetryAttempts") is { Number: { } retries } written && retries >= 1 && retries < RetrySchedule.MaxAttemptsLimit
                && PollyPipelines.Schedule(model, options, "Retry.", (int)retries, exponentialByDefault: true) is { } schedule
                && Comparison.ScheduleDoesNotFit(schedule, attempt, total, $"The retry schedule of {name}.Retry (MaxRetryAttempts = {retries})", outerDescription, written.Source, sink))
            {
                continue;
            }

            Comparison.MarginTooSmall(attempt, innerDescription, total, outerDescription, sink);
        }
    }

    /// <summary>
    /// The standard handler resets <c>HttpClient.Timeout</c> to infinite, so only a timeout configured after it in the same
    /// builder chain still applies — and then it wraps the whole handler, total request timeout included.
    /// </summary>
    private static void CheckAgainstHttpClientTimeout(TypeTimeoutModel model, DiagnosticSink sink)
    {
        foreach (var invocation in model.Invocations)
        {
            if (invocation.TargetMethod.Name != "AddStandardResilienceHandler" || ConfigureParameter(invocation) is not { } options
                || model.GetDuration(options, "TotalRequestTimeout.Timeout") is not { IsFinite: true } total)
            {
                continue;
            }

            for (var next = NextInChain(invocation); next is not null; next = NextInChain(next))
            {
                if (next.TargetMethod.Name != "ConfigureHttpClient" || ConfigureParameter(next) is not { } client
                    || model.GetDuration(client, "Timeout") is not { IsFinite: true } clientTimeout)
                {
                    continue;
                }

                var consequence = $"HttpClient cancels every request after {clientTimeout.Text}, before the handler's total timeout and its retries can act";
                if (!Comparison.InnerNotShorter(total, $"{options.Name}.TotalRequestTimeout", clientTimeout, "HttpClient.Timeout configured after the standard handler", consequence, sink))
                {
                    Comparison.MarginTooSmall(total, $"{options.Name}.TotalRequestTimeout", clientTimeout, "HttpClient.Timeout configured after the standard handler", sink);
                }
            }
        }
    }

    private static IParameterSymbol? ConfigureParameter(IInvocationOperation invocation)
    {
        foreach (var argument in invocation.Arguments)
        {
            var value = DurationEvaluator.SkipConversions(argument.Value);
            if (value is IDelegateCreationOperation creation)
            {
                value = creation.Target;
            }

            if (value is IAnonymousFunctionOperation { Symbol.Parameters.Length: > 0 } lambda)
            {
                return lambda.Symbol.Parameters[lambda.Symbol.Parameters.Length - 1];
            }
        }

        return null;
    }

    /// <summary>The call made on this call's result in a fluent chain: <c>x.AddStandardResilienceHandler(…).ConfigureHttpClient(…)</c>.</summary>
    private static IInvocationOperation? NextInChain(IInvocationOperation invocation)
    {
        IOperation current = invocation;
        while (current.Parent is IConversionOperation conversion)
        {
            current = conversion;
        }

        return current.Parent switch
        {
            IArgumentOperation { Parent: IInvocationOperation next } argument when next.TargetMethod.IsExtensionMethod && next.Arguments.Length > 0 && next.Arguments[0] == argument => next,
            IInvocationOperation next when next.Instance == current => next,
            _ => null,
        };
    }
}
