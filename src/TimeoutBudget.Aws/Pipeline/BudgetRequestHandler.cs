using Amazon.Runtime;
using Amazon.Runtime.Internal;

namespace TimeoutBudget.Aws;

/// <summary>
/// Outside the SDK's retry handler: links the whole request (every attempt and every backoff) to the ambient budget's
/// token, and turns a cancellation caused by the budget into the attributed exception.
/// </summary>
internal sealed class BudgetRequestHandler : PipelineHandler
{
    public override void InvokeSync(IExecutionContext executionContext)
    {
        using var scope = BudgetTokenScope.Enter(executionContext, Budget.Current);
        try
        {
            base.InvokeSync(executionContext);
        }
        catch (OperationCanceledException cancelled) when (scope.CausedBy(cancelled))
        {
            throw scope.Attribute(cancelled);
        }
    }

    public override async Task<T> InvokeAsync<T>(IExecutionContext executionContext)
    {
        using var scope = BudgetTokenScope.Enter(executionContext, Budget.Current);
        try
        {
            return await base.InvokeAsync<T>(executionContext).ConfigureAwait(false);
        }
        catch (OperationCanceledException cancelled) when (scope.CausedBy(cancelled))
        {
            throw scope.Attribute(cancelled);
        }
    }
}

/// <summary>
/// Inside the SDK's retry handler: each attempt runs in a child of the ambient budget that asks for the client's
/// <c>Timeout</c> and is clamped to what remains, so no attempt outlives the budget.
/// </summary>
internal sealed class BudgetAttemptHandler : PipelineHandler
{
    public override void InvokeSync(IExecutionContext executionContext)
    {
        using var attempt = OpenAttempt(executionContext);
        using var scope = BudgetTokenScope.Enter(executionContext, attempt);
        try
        {
            base.InvokeSync(executionContext);
        }
        catch (OperationCanceledException cancelled) when (scope.CausedBy(cancelled))
        {
            throw scope.Attribute(cancelled);
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
        catch (OperationCanceledException cancelled) when (scope.CausedBy(cancelled))
        {
            throw scope.Attribute(cancelled);
        }
    }

    private static Budget? OpenAttempt(IExecutionContext executionContext)
    {
        if (Budget.Current is not { } parent || executionContext.RequestContext is not RequestContext)
        {
            return null;
        }

        var timeout = executionContext.RequestContext.ClientConfig?.Timeout is { } set && set > TimeSpan.Zero ? set : System.Threading.Timeout.InfiniteTimeSpan;
        return parent.Child(AwsBudget.LayerFor(executionContext.RequestContext.RequestName), timeout);
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

    /// <summary>Whether the cancellation came from the budget rather than from the caller's own token.</summary>
    public bool CausedBy(OperationCanceledException cancelled) =>
        _budget is not null && _budget.Token.IsCancellationRequested && !_original.IsCancellationRequested;

    public Exception Attribute(OperationCanceledException cancelled)
    {
        try
        {
            _budget!.ThrowIfExpired();
        }
        catch (Exception failure) when (failure is BudgetExhaustedException or BudgetCancelledException)
        {
            return failure;
        }

        return cancelled;
    }

    public void Dispose()
    {
        if (_request is not null)
        {
            _request.CancellationToken = _original;
            _linked!.Dispose();
        }
    }
}
