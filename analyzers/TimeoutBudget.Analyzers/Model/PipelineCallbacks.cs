using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// The token a Polly v8 pipeline hands its callback (<c>pipeline.ExecuteAsync(async ct => client.GetAsync(url, ct))</c>) is
/// cancelled by the innermost timeout strategy — the last <c>AddTimeout</c> before <c>Build()</c> — so that timeout is the outer
/// bound of every call the callback makes with it.
/// </summary>
internal static class PipelineCallbacks
{
    public static Duration? CallbackTimeout(IOperation token, TypeTimeoutModel model)
    {
        if (DurationEvaluator.SkipConversions(token) is not IParameterReferenceOperation { Parameter.ContainingSymbol: IMethodSymbol { MethodKind: MethodKind.AnonymousFunction } callback })
        {
            return null;
        }

        var execute = token.Parent;
        while (execute is not null && !(execute is IAnonymousFunctionOperation lambda && SymbolEqualityComparer.Default.Equals(lambda.Symbol, callback)))
        {
            execute = execute.Parent;
        }

        while (execute is not null and not IInvocationOperation)
        {
            execute = execute.Parent;
        }

        if (execute is not IInvocationOperation { TargetMethod.Name: "ExecuteAsync" or "Execute", Instance: { } pipeline }
            || pipeline.Type?.Name != "ResiliencePipeline")
        {
            return null;
        }

        return InnermostTimeout(Built(pipeline, model), model);
    }

    /// <summary>The <c>Build()</c> call a pipeline held in a local, field or property came from.</summary>
    private static IOperation? Built(IOperation pipeline, TypeTimeoutModel model)
    {
        var current = TimedWait.Unwrap(pipeline);
        for (var depth = 0; depth < 4 && current is IFieldReferenceOperation or IPropertyReferenceOperation; depth++)
        {
            var holder = Roots.Of(current) as ISymbol;
            var stored = holder is null ? null : model.StoredValue(holder) ?? model.Evaluator.Declarations?.InitialValue(holder);
            if (stored is null)
            {
                return null;
            }

            current = TimedWait.Unwrap(stored);
        }

        return current;
    }

    private static Duration? InnermostTimeout(IOperation? built, TypeTimeoutModel model)
    {
        if (built is not IInvocationOperation { TargetMethod.Name: "Build" } build)
        {
            return null;
        }

        for (var step = Unwrapped(Roots.Receiver(build)); step is IInvocationOperation call; step = Unwrapped(Roots.Receiver(call)))
        {
            if (call.TargetMethod.Name == "AddTimeout")
            {
                var argument = call.Arguments.Skip(call.Instance is null ? 1 : 0).FirstOrDefault()?.Value;
                if (argument is null)
                {
                    return null;
                }

                return model.Types.IsTimeSpan(DurationEvaluator.SkipConversions(argument).Type)
                    ? model.Evaluator.EvaluateTimeSpan(argument)
                    : model.GetDuration(Roots.Of(argument), "Timeout");
            }
        }

        return null;
    }

    private static IOperation? Unwrapped(IOperation? receiver) => receiver is null ? null : TimedWait.Unwrap(receiver);
}
