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
        if (GrpcDeadline(call, model) is { } deadline)
        {
            yield return new InnerTimeout(deadline, "the gRPC deadline of the call", retries: null);
        }

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
            else if (root is ILocalSymbol local && DurationEvaluator.SingleAssignedValue(local, call) is { } created
                && DurationEvaluator.SkipConversions(created) is IInvocationOperation createClient
                && model.NamedClients?.TimeoutOf(createClient) is { } registered)
            {
                var clientName = createClient.Arguments.FirstOrDefault(a => a.Parameter?.Name == "name")?.Value.ConstantValue.Value as string;
                yield return new InnerTimeout(registered, $"HttpClient.Timeout of '{name}' (the client '{clientName}' registered with AddHttpClient)", retries: null);
            }

            yield break;
        }

        if (model.ConfigOf(root) is { } config && model.GetDuration(config, "Timeout") is { } sdkTimeout)
        {
            var configName = (config as ISymbol)?.Name ?? "its config";
            yield return new InnerTimeout(sdkTimeout, $"the SDK timeout of '{name}' ({configName}.Timeout, per attempt)", model.Get(config, "MaxErrorRetry"));
        }
    }

    /// <summary>
    /// A gRPC call's deadline written relative to now: <c>deadline: DateTime.UtcNow.AddSeconds(5)</c>, <c>DateTime.UtcNow + t</c>,
    /// also inside <c>new CallOptions(deadline: …)</c> passed in place. The server is told the same deadline, so it is the call's
    /// own timeout.
    /// </summary>
    private static Duration? GrpcDeadline(IInvocationOperation call, TypeTimeoutModel model)
    {
        if (call.Arguments.Length == 0 || call.TargetMethod.ContainingType?.OriginalDefinition.BaseType is not { Name: "ClientBase" })
        {
            return null;
        }

        foreach (var argument in call.Arguments)
        {
            if (argument.ArgumentKind != ArgumentKind.Explicit)
            {
                continue;
            }

            var value = DurationEvaluator.SkipConversions(argument.Value);
            if (argument.Parameter?.Name == "deadline")
            {
                return FromNow(value, model);
            }

            if (value is IObjectCreationOperation { Type.Name: "CallOptions" } options
                && options.Arguments.FirstOrDefault(a => a.Parameter?.Name == "deadline" && a.ArgumentKind == ArgumentKind.Explicit) is { } deadline)
            {
                return FromNow(DurationEvaluator.SkipConversions(deadline.Value), model);
            }
        }

        return null;
    }

    private static Duration? FromNow(IOperation deadline, TypeTimeoutModel model)
    {
        switch (deadline)
        {
            case IInvocationOperation { Instance: IPropertyReferenceOperation { Property: { Name: "UtcNow" or "Now", IsStatic: true, ContainingType.Name: "DateTime" } } } add
                when add.Arguments.Length == 1:
                var argument = add.Arguments[0].Value;
                var seconds = add.TargetMethod.Name switch
                {
                    "Add" => (model.Evaluator.EvaluateTimeSpan(argument) is { IsFinite: true } span ? span.Value.TotalSeconds : (double?)null),
                    "AddMilliseconds" => model.Evaluator.EvaluateNumber(argument) / 1000,
                    "AddSeconds" => model.Evaluator.EvaluateNumber(argument),
                    "AddMinutes" => model.Evaluator.EvaluateNumber(argument) * 60,
                    "AddHours" => model.Evaluator.EvaluateNumber(argument) * 3600,
                    _ => null,
                };
                return seconds is { } s && s >= 0 && s <= DurationText.MaxValue.TotalSeconds
                    ? new Duration(TimeSpan.FromSeconds(s), argument, isMilliseconds: false)
                    : null;
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Add, LeftOperand: IPropertyReferenceOperation { Property: { Name: "UtcNow" or "Now", IsStatic: true, ContainingType.Name: "DateTime" } } } sum:
                return model.Evaluator.EvaluateTimeSpan(sum.RightOperand) is { IsFinite: true } after ? after : null;
            default:
                return null;
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
