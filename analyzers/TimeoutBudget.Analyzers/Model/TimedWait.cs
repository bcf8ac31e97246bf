using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// A wait that gives up after a time without cancelling what it waits for: <c>task.WaitAsync(t)</c>, <c>task.Wait(t)</c>, or
/// <c>Task.WhenAny(work, delay)</c> where the delay is <c>Task.Delay(t)</c> written in place or held in a local, or an infinite
/// <c>Task.Delay</c> on the token of a source that is cancelled after a time (<c>cts.CancelAfter(t)</c>).
/// </summary>
internal sealed class TimedWait
{
    private TimedWait(IInvocationOperation wait, IOperation timeout, Duration? limit, IReadOnlyList<IOperation> work, bool returnsOnTimeout)
    {
        Wait = wait;
        Timeout = timeout;
        Limit = limit;
        Work = work;
        ReturnsOnTimeout = returnsOnTimeout;
    }

    public IInvocationOperation Wait { get; }

    /// <summary>The timeout expression, whether or not its value is known.</summary>
    public IOperation Timeout { get; }

    public Duration? Limit { get; }

    /// <summary>The tasks waited for, as written.</summary>
    public IReadOnlyList<IOperation> Work { get; }

    /// <summary><c>Wait(t)</c> and <c>WhenAny</c> return normally when the time is up; <c>WaitAsync(t)</c> throws.</summary>
    public bool ReturnsOnTimeout { get; }

    /// <summary>
    /// Whether the call could be a timed wait at all, judged without types: a wait method's name, or a method written in this
    /// compilation that takes something (a helper that might wrap a wait). Most calls are neither.
    /// </summary>
    public static bool CanBeOne(IInvocationOperation call) =>
        call.TargetMethod is { Name: "WaitAsync" or "Wait" or "WhenAny" } || call.Arguments.Length > 0 && call.TargetMethod.Locations is { IsEmpty: false } locations && locations[0].IsInSource;

    public static TimedWait? TryCreate(IInvocationOperation invocation, TypeTimeoutModel model)
    {
        var types = model.Types;
        var method = invocation.TargetMethod;
        // The name first: most calls are neither, and walking a receiver's base types costs more than comparing a name.
        if (method.Name is not ("WaitAsync" or "Wait" or "WhenAny") || !KnownTypes.IsOrDerivesFrom(method.ContainingType, types.Task))
        {
            return FromHelper(invocation, model);
        }

        switch (method.Name)
        {
            case "WaitAsync" or "Wait" when invocation.Instance is { } task:
                var timeout = invocation.Arguments.FirstOrDefault(a => a.Parameter is { Ordinal: 0 } p
                    && (types.IsTimeSpan(p.Type) || (method.Name == "Wait" && p.Type.SpecialType == SpecialType.System_Int32)));
                return timeout is null
                    ? null
                    : Create(invocation, timeout.Value, model.Evaluator.EvaluateArgument(timeout), new[] { task }, returnsOnTimeout: method.Name == "Wait");
            case "WhenAny":
                var tasks = ArgumentValues.Of(invocation).ToList();
                foreach (var candidate in tasks)
                {
                    if (AsDelay(candidate, model) is not { } delay)
                    {
                        continue;
                    }

                    var work = tasks.Where(t => t != candidate).ToList();
                    return Create(invocation, delay.Timeout, delay.Limit, work, returnsOnTimeout: true);
                }

                return null;
            default:
                return null;
        }
    }

    /// <summary>The operation that actually produces a waited-for task: through locals assigned once, <c>ConfigureAwait</c> and <c>AsTask</c>.</summary>
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

            if (work is IInvocationOperation { TargetMethod.Name: "ConfigureAwait" or "AsTask", Instance: { } wrapped, TargetMethod.IsStatic: false })
            {
                work = wrapped;
                continue;
            }

            break;
        }

        return work;
    }

    /// <summary>The delegate given to <c>Task.Run</c> or <c>TaskFactory.StartNew</c>, when the work is one.</summary>
    public static IOperation? TaskRunBody(IOperation work, KnownTypes types, out IInvocationOperation? run)
    {
        run = work as IInvocationOperation;
        if (run is null || run.Arguments.Length == 0
            || !(run.TargetMethod.Name == "Run" && KnownTypes.IsOrDerivesFrom(run.TargetMethod.ContainingType, types.Task)
                 || run.TargetMethod.Name == "StartNew" && run.TargetMethod.ContainingType.Name == "TaskFactory"))
        {
            run = null;
            return null;
        }

        var body = DurationEvaluator.SkipConversions(run.Arguments[0].Value);
        return body is IDelegateCreationOperation creation ? creation.Target : body;
    }

    /// <summary>A call to a timed-wait helper in source (<c>_reportTask.OrTimeout(_timeout)</c>) is the wait it wraps.</summary>
    private static TimedWait? FromHelper(IInvocationOperation invocation, TypeTimeoutModel model)
    {
        if (model.Evaluator.Declarations?.WaitHelper(invocation.TargetMethod, model.Types) is not { } helper)
        {
            return null;
        }

        var work = invocation.Arguments.FirstOrDefault(a => a.Parameter?.Ordinal == helper.Work)?.Value;
        var timeout = invocation.Arguments.FirstOrDefault(a => a.Parameter?.Ordinal == helper.Timeout);
        if (work is null || timeout is null || timeout.ArgumentKind != ArgumentKind.Explicit)
        {
            return null;
        }

        return Create(invocation, timeout.Value, model.Evaluator.EvaluateArgument(timeout), new[] { work }, returnsOnTimeout: false);
    }

    private static (IOperation Timeout, Duration? Limit)? AsDelay(IOperation candidate, TypeTimeoutModel model)
    {
        var types = model.Types;
        if (Unwrap(candidate) is not IInvocationOperation { TargetMethod.Name: "Delay", Arguments.Length: > 0 } delay
            || !KnownTypes.IsOrDerivesFrom(delay.TargetMethod.ContainingType, types.Task))
        {
            return null;
        }

        var limit = model.Evaluator.EvaluateArgument(delay.Arguments[0]);
        if (limit is not { IsInfinite: true })
        {
            return (delay.Arguments[0].Value, limit);
        }

        // Task.Delay(Timeout.Infinite, cts.Token) with cts.CancelAfter(t): the source's deadline is the wait's.
        foreach (var token in Tokens.Arguments(delay, types))
        {
            if (token.Kind == TokenKind.FromSource && CallTimeouts.Deadline(token.Source, model) is { } deadline)
            {
                return (deadline.Source, deadline);
            }
        }

        return null;
    }

    private static TimedWait? Create(IInvocationOperation wait, IOperation timeout, Duration? limit, IReadOnlyList<IOperation> work, bool returnsOnTimeout) =>
        limit is { IsInfinite: true } ? null : new TimedWait(wait, timeout, limit, work, returnsOnTimeout);
}
