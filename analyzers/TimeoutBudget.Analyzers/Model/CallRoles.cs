using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>What a rule can start from in a call. One call can be several (an SDK call taking a token is also outbound).</summary>
[Flags]
internal enum CallRole
{
    None = 0,

    /// <summary>The callee has a token parameter: the token comparisons of TB0001–TB0003 start here.</summary>
    TakesAToken = 1 << 0,

    /// <summary>A wait method's name, or a helper in source that might wrap a wait (<see cref="TimedWait.CanBeOne"/>).</summary>
    MaybeTimedWait = 1 << 1,

    /// <summary>An instance <c>…Async</c>/<c>Send</c> call or <c>WaitForExit…</c>: TB0005's candidates.</summary>
    MaybeUnbounded = 1 << 2,

    /// <summary><c>Execute…</c>: a Polly v7 policy's execution, where a pessimistic timeout can abandon the delegate (TB0004).</summary>
    PolicyExecution = 1 << 3,

    /// <summary><c>AddTimeout</c>/<c>AddRetry</c>: a Polly v8 strategy.</summary>
    PipelineStrategy = 1 << 4,

    /// <summary><c>AddStandardResilienceHandler</c>/<c>AddStandardHedgingHandler</c>.</summary>
    StandardHandler = 1 << 5,

    /// <summary>A step on an <c>IHttpClientBuilder</c> (<see cref="HttpClientRegistrations"/>).</summary>
    HttpClientBuilderStep = 1 << 6,

    /// <summary>A call that returns a budget (TB0006).</summary>
    ReturnsBudget = 1 << 7,
}

/// <summary>
/// Every call's roles, decided once per called method for the whole compilation: the rules used to test every call of a type
/// once each (eight passes of interface calls into the compiler's symbols), and most calls in a codebase are to a few methods.
/// </summary>
internal sealed class CallRoles
{
    /// <summary>Set with <see cref="CallRole.MaybeUnbounded"/> when only a receiver makes the call outbound (not a process wait).</summary>
    private const CallRole NeedsReceiver = (CallRole)(1 << 30);

    private readonly KnownTypes _types;
    private readonly ConcurrentDictionary<IMethodSymbol, CallRole> _byMethod = new(SymbolEqualityComparer.Default);

    public CallRoles(KnownTypes types) => _types = types;

    public CallRole Of(IInvocationOperation call)
    {
        var method = call.TargetMethod;
        if (!_byMethod.TryGetValue(method, out var roles))
        {
            roles = _byMethod.GetOrAdd(method, Classify(call));
        }

        if ((roles & NeedsReceiver) != 0)
        {
            roles = call.Instance is null ? roles & ~(CallRole.MaybeUnbounded | NeedsReceiver) : roles & ~NeedsReceiver;
        }

        return roles;
    }

    /// <summary>Every role the called method can give a call; all but the receiver test depend on the method alone.</summary>
    private CallRole Classify(IInvocationOperation call)
    {
        var method = call.TargetMethod;
        var roles = method.Name switch
        {
            "AddTimeout" or "AddRetry" => CallRole.PipelineStrategy,
            "AddStandardResilienceHandler" or "AddStandardHedgingHandler" => CallRole.StandardHandler,
            "ExecuteAsync" or "Execute" or "ExecuteAndCaptureAsync" or "ExecuteAndCapture" => CallRole.PolicyExecution,
            "WaitForExit" or "WaitForExitAsync" => CallRole.MaybeUnbounded,
            _ => CallRole.None,
        };

        if (TimedWait.CanBeOne(call))
        {
            roles |= CallRole.MaybeTimedWait;
        }

        if ((roles & CallRole.MaybeUnbounded) == 0 && UnboundedOperationRule.IsOutbound(method))
        {
            roles |= CallRole.MaybeUnbounded | NeedsReceiver;
        }

        if (Tokens.CanTakeOne(call, _types))
        {
            roles |= CallRole.TakesAToken;
        }

        var returned = method.ReturnType;
        if (HttpClientRegistrations.IsBuilderStep(method, returned))
        {
            roles |= CallRole.HttpClientBuilderStep;
        }

        if (_types.Budget is not null && SymbolEqualityComparer.Default.Equals(returned, _types.Budget))
        {
            roles |= CallRole.ReturnsBudget;
        }

        return roles;
    }
}
