using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>One layer of a Polly v7 policy, outermost first: a timeout, or a retry with its count and the delays it waits.</summary>
internal sealed class PolicyLayer
{
    private PolicyLayer(IOperation at, Duration? timeout, int? retries, IReadOnlyList<TimeSpan?> delays, bool isPessimistic = false)
    {
        At = at;
        Timeout = timeout;
        Retries = retries;
        Delays = delays;
        IsPessimistic = isPessimistic;
    }

    /// <summary>A timeout with <c>TimeoutStrategy.Pessimistic</c>: it walks away from a delegate that does not stop.</summary>
    public bool IsPessimistic { get; }

    /// <summary>Where the layer is written: the timeout value or the retry call.</summary>
    public IOperation At { get; }

    public Duration? Timeout { get; }

    /// <summary>Null for a timeout; the retry count for a retry (<see cref="int.MaxValue"/> when it retries forever).</summary>
    public int? Retries { get; }

    /// <summary>The delay before retry 1, 2, …, each null when it cannot be known (jitter, a computed value).</summary>
    public IReadOnlyList<TimeSpan?> Delays { get; }

    public bool IsTimeout => Retries is null;

    public static PolicyLayer ForTimeout(IOperation at, Duration? timeout, bool isPessimistic) => new(at, timeout, null, Array.Empty<TimeSpan?>(), isPessimistic);

    public static PolicyLayer ForRetry(IOperation at, int retries, IReadOnlyList<TimeSpan?> delays) => new(at, null, retries, delays);
}

/// <summary>
/// Reads Polly v7 policies as written: <c>Policy.TimeoutAsync(…)</c>, <c>WaitAndRetryAsync</c> with a count and a sleep-duration
/// function (evaluated per attempt) or a list of delays (arrays and Polly.Contrib <c>Backoff.*</c>), <c>RetryAsync</c>, the
/// forever variants, <c>a.WrapAsync(b)</c> and <c>Policy.WrapAsync(a, b, …)</c> (outermost first), through locals and fields.
/// Anything else (circuit breakers, fallbacks, bulkheads) adds no layer; an unknown policy yields null.
/// </summary>
internal static class PollyV7Policies
{
    private const int MaxDepth = 12;

    /// <summary>Delays are listed one by one only for schedules a person writes out; longer ones are retry-until-deadline loops.</summary>
    private const int MaxListedDelays = 64;

    public static List<PolicyLayer>? Layers(IOperation? policy, TypeTimeoutModel model) => Layers(policy, model, 0);

    private static List<PolicyLayer>? Layers(IOperation? policy, TypeTimeoutModel model, int depth)
    {
        if (policy is null || depth > MaxDepth)
        {
            return null;
        }

        policy = DurationEvaluator.SkipConversions(policy);
        switch (policy)
        {
            case ILocalReferenceOperation local:
                return Layers(DurationEvaluator.SingleAssignedValue(local.Local, policy), model, depth + 1);
            case IFieldReferenceOperation { Field.IsReadOnly: true } field:
                return Layers(model.Evaluator.Declarations?.InitialValue(field.Field), model, depth + 1);
            case IPropertyReferenceOperation { Property.SetMethod: null } property:
                return Layers(model.Evaluator.Declarations?.InitialValue(property.Property), model, depth + 1);
            case IInvocationOperation call when IsPolly(call.TargetMethod):
                return FromCall(call, model, depth);
            case IInvocationOperation helper when helper.TargetMethod.DeclaringSyntaxReferences.Length > 0:
                // static IAsyncPolicy<HttpResponseMessage> GetRetryPolicy() => HttpPolicyExtensions…WaitAndRetryAsync(…)
                return Layers(ReturnedValue(model.Evaluator.Declarations?.Body(helper.TargetMethod)), model, depth + 1);
            default:
                return null;
        }
    }

    /// <summary>
    /// What a body returns when it returns one thing: an expression body, or a block ending in its only return. Returns of
    /// lambdas and local functions inside it are theirs, not the body's (<c>b => b.WaitAndRetryAsync(3, n => …)</c>).
    /// </summary>
    public static IOperation? ReturnedValue(IOperation? body)
    {
        switch (body)
        {
            case IBlockOperation block:
                var returns = block.Descendants().OfType<IReturnOperation>().Where(r => r.ReturnedValue is not null && ReturnsFrom(r, block)).ToList();
                return returns.Count == 1 ? returns[0].ReturnedValue : null;
            case IReturnOperation { ReturnedValue: { } value }:
                return value;
            case null:
                return null;
            default:
                return body.Kind == OperationKind.MethodBody || body.Kind == OperationKind.ConstructorBody ? null : body;
        }
    }

    private static bool ReturnsFrom(IReturnOperation @return, IBlockOperation body)
    {
        for (var parent = @return.Parent; parent is not null && parent != body; parent = parent.Parent)
        {
            if (parent is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsPolly(IMethodSymbol method) =>
        method.ContainingNamespace is { Name: "Polly" or "Retry" or "Timeout" or "Wrap" } ns
        && (ns.Name == "Polly" ? ns.ContainingNamespace?.IsGlobalNamespace == true : ns.ContainingNamespace is { Name: "Polly" });

    private static List<PolicyLayer>? FromCall(IInvocationOperation call, TypeTimeoutModel model, int depth)
    {
        var method = call.TargetMethod;
        switch (method.Name)
        {
            case "Timeout" or "TimeoutAsync" when method.IsStatic && !method.IsExtensionMethod:
                var pessimistic = call.Arguments.Any(a => DurationEvaluator.SkipConversions(a.Value) is IFieldReferenceOperation { Field: { Name: "Pessimistic", ContainingType.Name: "TimeoutStrategy" } });
                return new List<PolicyLayer> { PolicyLayer.ForTimeout(call, TimeoutValue(call, model), pessimistic) };
            case "WrapAsync" or "Wrap" when method.IsStatic && !method.IsExtensionMethod:
                return Concat(ArgumentValues.Of(call), model, depth);
            case "WrapAsync" or "Wrap":
                var outer = call.Instance ?? (call.Arguments.Length > 0 ? call.Arguments[0].Value : null);
                var inner = call.Instance is null ? call.Arguments.Skip(1).Select(a => a.Value) : call.Arguments.Select(a => a.Value);
                return Concat(new[] { outer! }.Concat(inner), model, depth);
            case "RetryAsync" or "Retry":
                return new List<PolicyLayer> { PolicyLayer.ForRetry(call, RetryCount(call, model) ?? 1, Array.Empty<TimeSpan?>()) };
            case "RetryForeverAsync" or "RetryForever" or "WaitAndRetryForeverAsync" or "WaitAndRetryForever":
                return new List<PolicyLayer> { PolicyLayer.ForRetry(call, int.MaxValue, Array.Empty<TimeSpan?>()) };
            case "WaitAndRetryAsync" or "WaitAndRetry":
                return WaitAndRetry(call, model) is { } retry ? new List<PolicyLayer> { retry } : null;
            case "NoOpAsync" or "NoOp":
                return new List<PolicyLayer>();
            default:
                // Circuit breakers, fallbacks, bulkheads, caches: no timeout of their own.
                return model.Types.IsTimeSpan(method.ReturnType) ? null : new List<PolicyLayer>();
        }
    }

    private static List<PolicyLayer>? Concat(IEnumerable<IOperation> policies, TypeTimeoutModel model, int depth)
    {
        var layers = new List<PolicyLayer>();
        foreach (var policy in policies)
        {
            if (Layers(policy, model, depth + 1) is not { } inner)
            {
                return null;
            }

            layers.AddRange(inner);
        }

        return layers;
    }

    /// <summary>Polly v7 takes a timeout as a <see cref="TimeSpan"/> or as whole seconds.</summary>
    private static Duration? TimeoutValue(IInvocationOperation call, TypeTimeoutModel model)
    {
        var argument = call.Arguments.FirstOrDefault(a => a.Parameter?.Ordinal == 0);
        if (argument is null || argument.ArgumentKind != ArgumentKind.Explicit)
        {
            return null;
        }

        if (model.Types.IsTimeSpan(argument.Parameter!.Type))
        {
            return model.Evaluator.EvaluateTimeSpan(argument.Value);
        }

        return argument.Parameter.Type.SpecialType == SpecialType.System_Int32 && model.Evaluator.EvaluateNumber(argument.Value) is { } seconds
            && seconds > 0 && seconds <= DurationText.MaxValue.TotalSeconds
            ? new Duration(TimeSpan.FromSeconds(seconds), argument.Value, isMilliseconds: false)
            : null;
    }

    private static int? RetryCount(IInvocationOperation call, TypeTimeoutModel model)
    {
        var argument = call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "retryCount" && a.ArgumentKind == ArgumentKind.Explicit);
        return argument is not null && model.Evaluator.EvaluateNumber(argument.Value) is { } count && count >= 0 && count <= int.MaxValue ? (int)count : null;
    }

    private static PolicyLayer? WaitAndRetry(IInvocationOperation call, TypeTimeoutModel model)
    {
        if (call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "sleepDurations") is { } listed)
        {
            return DelayList(listed.Value, model) is { } delays ? PolicyLayer.ForRetry(call, delays.Count, delays) : null;
        }

        if (RetryCount(call, model) is not { } retries)
        {
            return null;
        }

        var provider = call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "sleepDurationProvider")?.Value;
        return PolicyLayer.ForRetry(call, retries, SleepDurations(provider, retries, model));
    }

    /// <summary>A sleep-duration function evaluated for attempts 1…n (Polly passes the attempt number first).</summary>
    private static IReadOnlyList<TimeSpan?> SleepDurations(IOperation? provider, int retries, TypeTimeoutModel model)
    {
        var count = Math.Min(retries, MaxListedDelays);
        var delays = new TimeSpan?[count];
        if (provider is null)
        {
            return delays;
        }

        var function = DurationEvaluator.SkipConversions(provider);
        if (function is IDelegateCreationOperation creation)
        {
            function = creation.Target;
        }

        if (function is not IAnonymousFunctionOperation { Body.Operations.Length: 1 } lambda
            || lambda.Body.Operations[0] is not IReturnOperation { ReturnedValue: { } returned })
        {
            return delays;
        }

        var attempt = lambda.Symbol.Parameters.FirstOrDefault();
        for (var i = 0; i < count; i++)
        {
            var evaluator = attempt is null ? model.Evaluator : model.Evaluator.With(attempt, i + 1);
            delays[i] = evaluator.EvaluateTimeSpan(returned) is { IsFinite: true } delay ? delay.Value : null;
        }

        return delays;
    }

    /// <summary>An explicit list of delays: an array or collection of TimeSpans, or a Polly.Contrib <c>Backoff.*</c> schedule.</summary>
    private static IReadOnlyList<TimeSpan?>? DelayList(IOperation value, TypeTimeoutModel model)
    {
        value = TimedWait.Unwrap(value);
        switch (value)
        {
            case IArrayCreationOperation { Initializer: { } elements }:
                return elements.ElementValues.Select(e => model.Evaluator.EvaluateTimeSpan(e) is { IsFinite: true } d ? d.Value : (TimeSpan?)null).ToList();
            case IObjectCreationOperation { Initializer: { } collection }:
                return collection.Initializers.OfType<IInvocationOperation>()
                    .Select(add => add.Arguments.Length == 1 && model.Evaluator.EvaluateTimeSpan(add.Arguments[0].Value) is { IsFinite: true } d ? d.Value : (TimeSpan?)null).ToList();
            case IInvocationOperation { TargetMethod.ContainingType.Name: "Backoff" } backoff:
                return Backoff(backoff, model);
            default:
                return null;
        }
    }

    private static IReadOnlyList<TimeSpan?>? Backoff(IInvocationOperation backoff, TypeTimeoutModel model)
    {
        if (RetryCount(backoff, model) is not { } retries)
        {
            return null;
        }

        var count = Math.Min(retries, MaxListedDelays);
        var first = backoff.Arguments.FirstOrDefault(a => a.Parameter?.Ordinal == 0 && a.ArgumentKind == ArgumentKind.Explicit) is { } initial
            ? model.Evaluator.EvaluateTimeSpan(initial.Value)?.Value
            : null;
        var factor = backoff.Arguments.FirstOrDefault(a => a.Parameter?.Name == "factor") is { ArgumentKind: ArgumentKind.Explicit } given
            ? model.Evaluator.EvaluateNumber(given.Value)
            : 2.0;
        var fastFirst = backoff.Arguments.FirstOrDefault(a => a.Parameter?.Name == "fastFirst") is { ArgumentKind: ArgumentKind.Explicit } fast
            && fast.Value.ConstantValue is { HasValue: true, Value: true };
        var delays = new TimeSpan?[count];
        for (var i = 0; i < count; i++)
        {
            delays[i] = backoff.TargetMethod.Name switch
            {
                "ConstantBackoff" when first is { } d => fastFirst && i == 0 ? TimeSpan.Zero : d,
                "ExponentialBackoff" when first is { } d && factor is { } f && Math.Pow(f, i) * d.Ticks is var ticks && ticks < DurationText.MaxValue.Ticks
                    => fastFirst && i == 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)ticks),
                _ => null, // Jittered and linear schedules: the count is known, each delay is not.
            };
        }

        return delays;
    }
}
