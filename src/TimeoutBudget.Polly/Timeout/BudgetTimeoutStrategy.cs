using Polly;

namespace TimeoutBudget.Polly;

/// <summary>
/// Runs each execution in a child of <see cref="Budget.Current"/> (or a root when there is none), which is
/// <see cref="Budget.Current"/> inside the callback and <see cref="BudgetResilienceKeys.Budget"/> on the context. The caller
/// regains control at the deadline even if the callback ignores it; the outcome is then the attributed
/// <see cref="BudgetExhaustedException"/> naming the layer that ran out, never an anonymous timeout.
/// </summary>
/// <remarks>
/// Polly v8 lets only its own strategies replace <see cref="ResilienceContext.CancellationToken"/>, so cooperative
/// cancellation comes from the budget's <see cref="Budget.Token"/> (the AWS and HTTP integrations use it by themselves).
/// </remarks>
internal sealed class BudgetTimeoutStrategy : ResilienceStrategy
{
    private readonly string _layer;
    private readonly TimeSpan _timeout;
    private readonly BudgetOptions _rootOptions;

    public BudgetTimeoutStrategy(BudgetTimeoutStrategyOptions options, TimeProvider timeProvider)
    {
        _layer = options.Layer;
        _timeout = options.Timeout;
        _rootOptions = options.BudgetOptions ??
            (ReferenceEquals(timeProvider, TimeProvider.System) ? BudgetOptions.Default : new BudgetOptions { TimeProvider = timeProvider });
    }

    protected override async ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state)
    {
        Budget budget;
        try
        {
            budget = Budget.Enter(_layer, _timeout, _rootOptions, context.CancellationToken);
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            // The enclosing budget already ran out, the caller already cancelled, or (Strict) the timeout does not fit.
            return Outcome.FromException<TResult>(exception);
        }

        context.Properties.TryGetValue(BudgetResilienceKeys.Budget, out var previousBudget);
        context.Properties.Set(BudgetResilienceKeys.Budget, budget);
        // Left set afterwards on purpose: a retry around this strategy reads it as the length of the next attempt.
        context.Properties.Set(BudgetResilienceKeys.AttemptTimeout, _timeout);
        try
        {
            // State passed through, no closure: an execution that completes synchronously allocates nothing here.
            var result = await budget.TryRunAsync(static (run, _) => run.callback(run.context, run.state), (callback, context, state))
                .ConfigureAwait(context.ContinueOnCapturedContext);
            switch (result.Outcome)
            {
                case BudgetOutcome.Completed:
                    var outcome = result.Value;
                    if (outcome.Exception is OperationCanceledException cancelled && budget.Token.IsCancellationRequested)
                    {
                        // The callback observed our token: say whose deadline (or whose caller) it was.
                        return Outcome.FromException<TResult>(Attribute(budget, cancelled));
                    }

                    return outcome;
                default:
                    return Outcome.FromException<TResult>(result.Exception!);
            }
        }
        finally
        {
            context.Properties.Set(BudgetResilienceKeys.Budget, previousBudget!);

            budget.Dispose();
        }
    }

    private static Exception Attribute(Budget budget, OperationCanceledException cancelled)
    {
        try
        {
            budget.ThrowIfExpired();
        }
        catch (Exception failure) when (failure is BudgetExhaustedException or BudgetCancelledException)
        {
            return failure;
        }

        return cancelled;
    }
}
