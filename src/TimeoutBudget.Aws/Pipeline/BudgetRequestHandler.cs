using Amazon.Runtime;
using Amazon.Runtime.Internal;

namespace TimeoutBudget.Aws;

/// <summary>
/// Outside the SDK's retry handler: runs the whole request (every attempt and every backoff) in a child of the ambient
/// budget named <c>aws-</c> plus the operation, links the request's token to it, and turns a cancellation caused by a
/// budget — or by the caller's own token — into the attributed exception.
/// </summary>
internal sealed class BudgetRequestHandler : PipelineHandler
{
    public override void InvokeSync(IExecutionContext executionContext)
    {
        using var request = OpenRequest(executionContext);
        using var scope = BudgetTokenScope.Enter(executionContext, request);
        try
        {
            base.InvokeSync(executionContext);
        }
        catch (Exception failure) when (scope.Attribute(failure, callerCancels: true) is { } attributed)
        {
            throw attributed;
        }
    }

    public override async Task<T> InvokeAsync<T>(IExecutionContext executionContext)
    {
        using var request = OpenRequest(executionContext);
        using var scope = BudgetTokenScope.Enter(executionContext, request);
        try
        {
            return await base.InvokeAsync<T>(executionContext).ConfigureAwait(false);
        }
        catch (Exception failure) when (scope.Attribute(failure, callerCancels: true) is { } attributed)
        {
            throw attributed;
        }
    }

    /// <summary>The request's layer: whatever fits in the ambient budget, current while the SDK runs its attempts.</summary>
    private static Budget? OpenRequest(IExecutionContext executionContext) =>
        Budget.Current is { } parent && executionContext.RequestContext is RequestContext request
            ? parent.Child(AwsBudget.LayerFor(request.RequestName), System.Threading.Timeout.InfiniteTimeSpan)
            : null;
}

/// <summary>
/// Inside the SDK's retry handler: each attempt runs in a child of the request's layer named <c>attempt</c> that asks for
/// the client's <c>Timeout</c> and is clamped to what remains, so no attempt outlives the budget.
/// </summary>
internal sealed class BudgetAttemptHandler : PipelineHandler
{
    /// <summary>The layer name of one attempt, under the request's <c>aws-</c> layer.</summary>
    public const string AttemptLayer = "attempt";

    public override void InvokeSync(IExecutionContext executionContext)
    {
        using var attempt = OpenAttempt(executionContext);
        using var scope = BudgetTokenScope.Enter(executionContext, attempt);
        try
        {
            base.InvokeSync(executionContext);
        }
        catch (Exception failure) when (scope.Attribute(failure, callerCancels: false) is { } attributed)
        {
            throw attributed;
        }
    }

    public override async Task<T> InvokeAsync<T>(IExecutionContext executionContext)
    {
        using var attempt = OpenAttempt(executionContext);
        using var scope = BudgetTokenScope.Enter(executionContext, attempt);
        try
        {
            return await base.InvokeAsync<T>(executionContext).ConfigureAwait(false);
        }
        catch (Exception failure) when (scope.Attribute(failure, callerCancels: false) is { } attributed)
        {
            throw attributed;
        }
    }

    private static Budget? OpenAttempt(IExecutionContext executionContext)
    {
        if (Budget.Current is not { } parent || executionContext.RequestContext is not RequestContext)
        {
            return null;
        }

        var timeout = executionContext.RequestContext.ClientConfig?.Timeout is { } set && set > TimeSpan.Zero ? set : System.Threading.Timeout.InfiniteTimeSpan;
        return parent.DetachedChild(AttemptLayer, timeout);
    }
}

/// <summary>Swaps the request's cancellation token for one linked to a budget, and restores it afterwards.</summary>
internal readonly struct BudgetTokenScope : IDisposable
{
    private readonly RequestContext? _request;
    private readonly CancellationToken _original;
    private readonly CancellationTokenSource? _linked;
    private readonly Budget? _budget;

    private BudgetTokenScope(RequestContext request, CancellationToken original, CancellationTokenSource linked, Budget budget)
    {
        _request = request;
        _original = original;
        _linked = linked;
        _budget = budget;
    }

    public static BudgetTokenScope Enter(IExecutionContext executionContext, Budget? budget)
    {
        if (budget is null || executionContext.RequestContext is not RequestContext request)
        {
            return default;
        }

        budget.ThrowIfExpired();
        var original = request.CancellationToken;
        var linked = CancellationTokenSource.CreateLinkedTokenSource(original, budget.Token);
        request.CancellationToken = linked.Token;
        return new BudgetTokenScope(request, original, linked, budget);
    }

    /// <summary>
    /// What a failure that ended the SDK call means: a budget's expiry (naming the innermost layer whose deadline
    /// passed), a budget's caller cancelling, or — with <paramref name="callerCancels"/> — the caller's own token; or null
    /// when none of these caused it (the SDK's own, left as it is).
    /// </summary>
    /// <remarks>
    /// <para>
    /// The budget decides first, whatever token the caller passed: ASP.NET Core's <c>RequestAborted</c> behind
    /// <c>UseTimeoutBudget</c> is the request budget's own token, so it is cancelled by the very expiry being attributed.
    /// </para>
    /// <para>
    /// A cancelled request can surface as a transport error rather than a cancellation (the socket is torn down under a
    /// pending read), so any failure counts once the budget's token is cancelled; one an inner layer already attributed
    /// is left as it is. The attributed exception never carries the transport's errors: the SDK retries a failure whose
    /// chain holds a reset or aborted socket as a stale pooled connection, outside <c>MaxErrorRetry</c>, so with retries
    /// off an expired attempt would be sent again.
    /// </para>
    /// </remarks>
    public Exception? Attribute(Exception failure, bool callerCancels)
    {
        if (_budget is null
            || failure is BudgetExhaustedException or BudgetCancelledException
            || (failure is not OperationCanceledException && !_budget.Token.IsCancellationRequested))
        {
            return null;
        }

        var cancelled = WithoutTransportErrors(failure);
        if (_budget.AsExpiry(cancelled) is { } expired)
        {
            return expired;
        }

        // A budget further out may have cancelled before its cancellation reached this one.
        for (var budget = _budget; budget is not null; budget = budget.Parent)
        {
            if (budget.Token.IsCancellationRequested)
            {
                try
                {
                    budget.ThrowIfExpired();
                }
                catch (Exception attributed) when (attributed is BudgetExhaustedException or BudgetCancelledException)
                {
                    return attributed;
                }
            }
        }

        return callerCancels && _original.IsCancellationRequested
            ? new BudgetCancelledException(_budget.Layer, _budget.Path, _budget.Elapsed, _budget.Remaining, _original, cancelled)
            : null;
    }

    /// <summary>The cancellation as the caller should see it: the failure itself when nothing hangs under it.</summary>
    private OperationCanceledException WithoutTransportErrors(Exception failure) =>
        failure is OperationCanceledException { InnerException: null } clean
            ? clean
            : new OperationCanceledException(failure.Message, (failure as OperationCanceledException)?.CancellationToken ?? _budget!.Token);

    public void Dispose()
    {
        if (_request is not null)
        {
            _request.CancellationToken = _original;
            _linked!.Dispose();
        }
    }
}
