using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>A timeout that bounds one call from inside: the client's own timeout, with the retries configured around it.</summary>
internal readonly struct InnerTimeout
{
    public InnerTimeout(Duration duration, string description, WrittenValue? retries)
    {
        Duration = duration;
        Description = description;
        Retries = retries;
    }

    public Duration Duration { get; }

    public string Description { get; }

    /// <summary>An explicitly written retry count (AWS <c>MaxErrorRetry</c>); the SDK default is not the user's schedule.</summary>
    public WrittenValue? Retries { get; }
}

/// <summary>A timeout that bounds a call from outside: a timed wait around it, or the token it receives.</summary>
internal readonly struct OuterTimeout
{
    public OuterTimeout(Duration duration, string description, bool isWait)
    {
        Duration = duration;
        Description = description;
        IsWait = isWait;
    }

    public Duration Duration { get; }

    public string Description { get; }

    /// <summary>A wait gives up and leaves the call running; a token cancels it.</summary>
    public bool IsWait { get; }
}

internal static class CallTimeouts
{
    public static string Describe(IInvocationOperation call)
    {
        var receiver = call.Instance is { } instance ? Name(instance) : call.TargetMethod.ContainingType.Name;
        return receiver is null ? $"the {call.TargetMethod.Name} call" : $"the {receiver}.{call.TargetMethod.Name} call";
    }

    public static string? Name(IOperation operation) => Roots.Of(operation) is ISymbol symbol ? symbol.Name : null;

    /// <summary>The timeouts the call's receiver was configured with in this type: <c>HttpClient.Timeout</c>, an SDK client's <c>ClientConfig.Timeout</c>.</summary>
    public static IEnumerable<InnerTimeout> Inner(IInvocationOperation call, TypeTimeoutModel model)
    {
        var receiver = call.Instance is null ? null : DurationEvaluator.SkipConversions(call.Instance);
        if (receiver is null)
        {
            yield break;
        }

        var root = Roots.Of(receiver);
        if (root is null)
        {
            yield break;
        }

        var name = (root as ISymbol)?.Name ?? "client";
        if (KnownTypes.IsOrDerivesFrom(receiver.Type, model.Types.HttpClient))
        {
            if (model.GetDuration(root, "Timeout") is { } timeout)
            {
                yield return new InnerTimeout(timeout, $"HttpClient.Timeout of '{name}'", retries: null);
            }

            yield break;
        }

        if (model.ConfigOf(root) is { } config && model.GetDuration(config, "Timeout") is { } sdkTimeout)
        {
            var configName = (config as ISymbol)?.Name ?? "its config";
            yield return new InnerTimeout(sdkTimeout, $"the SDK timeout of '{name}' ({configName}.Timeout, per attempt)", model.Get(config, "MaxErrorRetry"));
        }
    }

    /// <summary>The earliest known deadline of a token source or budget, through the sources it is linked to.</summary>
    public static Duration? Deadline(object? source, TypeTimeoutModel model, int depth = 0)
    {
        if (source is null || depth > 8)
        {
            return null;
        }

        Duration? earliest = model.GetDuration(source, TypeTimeoutModel.TimeoutSlot) is { IsFinite: true } own ? own : null;
        foreach (var parent in model.LinkedParents(source))
        {
            if (Deadline(parent, model, depth + 1) is { } inherited && (earliest is null || inherited.Value < earliest.Value.Value))
            {
                earliest = inherited;
            }
        }

        return earliest;
    }

    /// <summary>Every call made by the waited-for work, looking into the delegate given to <c>Task.Run</c>.</summary>
    public static IEnumerable<IInvocationOperation> CallsIn(IOperation work)
    {
        var produced = TimedWait.Unwrap(work);
        foreach (var operation in produced.DescendantsAndSelf())
        {
            if (operation is IInvocationOperation call)
            {
                yield return call;
            }
        }
    }
}
