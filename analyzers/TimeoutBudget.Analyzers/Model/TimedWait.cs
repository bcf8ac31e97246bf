using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// A wait that gives up after a time without cancelling what it waits for: <c>task.WaitAsync(t)</c>, <c>task.Wait(t)</c>, or
/// <c>Task.WhenAny(work, Task.Delay(t))</c>.
/// </summary>
internal sealed class TimedWait
{
    private TimedWait(IInvocationOperation wait, IOperation timeout, Duration? limit, IReadOnlyList<IOperation> work)
    {
        Wait = wait;
        Timeout = timeout;
        Limit = limit;
        Work = work;
    }

    public IInvocationOperation Wait { get; }

    /// <summary>The timeout expression, whether or not its value is known.</summary>
    public IOperation Timeout { get; }

    public Duration? Limit { get; }

    /// <summary>The tasks waited for, as written.</summary>
    public IReadOnlyList<IOperation> Work { get; }

    public static TimedWait? TryCreate(IInvocationOperation invocation, TypeTimeoutModel model)
    {
        var types = model.Types;
        var method = invocation.TargetMethod;
        if (!KnownTypes.IsOrDerivesFrom(method.ContainingType, types.Task))
        {
            return null;
        }

        switch (method.Name)
        {
            case "WaitAsync" or "Wait" when invocation.Instance is { } task:
                var timeout = invocation.Arguments.FirstOrDefault(a => a.Parameter is { Ordinal: 0 } p
                    && (types.IsTimeSpan(p.Type) || (method.Name == "Wait" && p.Type.SpecialType == SpecialType.System_Int32)));
                return timeout is null ? null : Create(invocation, timeout.Value, model.Evaluator.EvaluateArgument(timeout), new[] { task });
            case "WhenAny":
                var tasks = ArgumentValues.Of(invocation).ToList();
                var delay = tasks.Select(t => DurationEvaluator.SkipConversions(t)).OfType<IInvocationOperation>()
                    .FirstOrDefault(t => t.TargetMethod.Name == "Delay" && KnownTypes.IsOrDerivesFrom(t.TargetMethod.ContainingType, types.Task) && t.Arguments.Length > 0);
                if (delay is null)
                {
                    return null;
                }

                var work = tasks.Where(t => DurationEvaluator.SkipConversions(t) != delay).ToList();
                return Create(invocation, delay.Arguments[0].Value, model.Evaluator.EvaluateArgument(delay.Arguments[0]), work);
            default:
                return null;
        }
    }

    /// <summary>The operation that actually produces a waited-for task: through locals assigned once and <c>await</c>.</summary>
    public static IOperation Unwrap(IOperation work)
    {
        for (var depth = 0; depth < 8; depth++)
        {
            work = DurationEvaluator.SkipConversions(work);
            if (work is ILocalReferenceOperation local && DurationEvaluator.SingleAssignedValue(local.Local, work) is { } value)
            {
                work = value;
                continue;
            }

            break;
        }

        return work;
    }

    /// <summary>The delegate given to <c>Task.Run</c>, when the work is one.</summary>
    public static IOperation? TaskRunBody(IOperation work, KnownTypes types, out IInvocationOperation? run)
    {
        run = work as IInvocationOperation;
        if (run is null || run.TargetMethod.Name != "Run" || !KnownTypes.IsOrDerivesFrom(run.TargetMethod.ContainingType, types.Task) || run.Arguments.Length == 0)
        {
            run = null;
            return null;
        }

        var body = DurationEvaluator.SkipConversions(run.Arguments[0].Value);
        return body is IDelegateCreationOperation creation ? creation.Target : body;
    }

    private static TimedWait? Create(IInvocationOperation wait, IOperation timeout, Duration? limit, IReadOnlyList<IOperation> work) =>
        limit is { IsInfinite: true } ? null : new TimedWait(wait, timeout, limit, work);
}
