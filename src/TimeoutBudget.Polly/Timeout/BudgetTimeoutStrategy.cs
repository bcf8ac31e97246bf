using Polly;
using Polly.Timeout;

namespace TimeoutBudget.Polly;

/// <summary>
/// Runs each execution in a child of <see cref="Budget.Current"/> (or a root when there is none), which is
/// <see cref="Budget.Current"/> inside the callback and <see cref="BudgetResilienceKeys.Budget"/> on the context. The
/// callback's token cancels at the budget's deadline, the caller regains control at the deadline even if the callback
/// ignores it, and the outcome is then the attributed <see cref="BudgetExhaustedException"/> naming the layer that ran
/// out, never an anonymous timeout.
/// </summary>
/// <remarks>
/// <para>Polly v8 lets only its own strategies replace <see cref="ResilienceContext.CancellationToken"/>, so the strategy is
/// three in a row: this one opens the budget and attributes the outcome; Polly's timeout strategy
/// (<see cref="DeadlineOptions"/>) hands the callback a token armed for the budget's deadline; <see cref="Guard"/>, inside
/// it, gives control back at the deadline when the callback ignores that token.</para>
/// <para>Giving control back happens inside Polly's timeout, so Polly always restores the context's token before the
/// outcome reaches the strategies around this one (a retry reads it).</para>
/// </remarks>
internal sealed class BudgetTimeoutStrategy : ResilienceStrategy
{
    // How early a system timer may fire by the precise clock: one tick of the coarse clock it counts on.
    private static readonly TimeSpan SystemTimerSlack = TimeSpan.FromMilliseconds(5);

    // The attempt timeout, boxed once: ResilienceProperties holds objects, and setting it through its TimeSpan key would
    // box it again on every execution. Readers use BudgetResilienceKeys.AttemptTimeout (same name) and see a TimeSpan.
    private static readonly ResiliencePropertyKey<object> BoxedAttemptTimeout = new(BudgetResilienceKeys.AttemptTimeout.Key);

    private readonly string _layer;
    private readonly TimeSpan _timeout;
    private readonly object _boxedTimeout;
    private readonly BudgetOptions _rootOptions;

    public BudgetTimeoutStrategy(BudgetTimeoutStrategyOptions options, TimeProvider timeProvider)
    {
        _layer = options.Layer;
        _timeout = options.Timeout;
        _boxedTimeout = _timeout;
        _rootOptions = options.BudgetOptions ??
            (ReferenceEquals(timeProvider, TimeProvider.System) ? BudgetOptions.Default : new BudgetOptions { TimeProvider = timeProvider });
    }

    /// <summary>
    /// Polly's timeout strategy, for right inside this one: it hands the callback a token that cancels at the deadline of
    /// the budget this strategy opened for the execution (read from <see cref="BudgetResilienceKeys.Budget"/>), or with the
    /// pipeline's token.
    /// </summary>
    /// <param name="options">This strategy's options.</param>
    /// <returns>The options of the inner timeout.</returns>
    public static TimeoutStrategyOptions DeadlineOptions(BudgetTimeoutStrategyOptions options) => new()
    {
        Name = options.Name is { } name ? name + ".Deadline" : null,
        TimeoutGenerator = static args => new ValueTask<TimeSpan>(
            args.Context.Properties.TryGetValue(BudgetResilienceKeys.Budget, out var budget) && budget is not null
                ? UntilDeadline(budget)
                : System.Threading.Timeout.InfiniteTimeSpan),
    };

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
        context.Properties.Set(BoxedAttemptTimeout, _boxedTimeout);
        try
        {
            var outcome = await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
            switch (outcome.Exception)
            {
                case TimeoutRejectedException rejected:
                    // The callback observed the token Polly's inner timeout armed for this budget's deadline.
                    return Outcome.FromException<TResult>(await AttributeRejectedAsync(budget, rejected, context.ContinueOnCapturedContext)
                        .ConfigureAwait(context.ContinueOnCapturedContext));
                case OperationCanceledException cancelled and not BudgetCancelledException when budget.Token.IsCancellationRequested || budget.IsExpired:
                    // The callback observed our token (or Polly's, once our deadline passed): say whose deadline (or caller) it was.
                    return Outcome.FromException<TResult>(Attribute(budget, cancelled));
                default:
                    return outcome;
            }
        }
        finally
        {
            context.Properties.Set(BudgetResilienceKeys.Budget, previousBudget!);

            budget.Dispose();
        }
    }

    /// <summary>
    /// How long from now until the budget's deadline, as a timer of its clock should be armed so that it never fires before
    /// it: never zero (Polly would not arm it), and on the system clock rounded up to whole milliseconds plus one tick of
    /// the coarse clock system timers run on (they may fire that much early), so the budget has expired by the time the
    /// callback's token cancels.
    /// </summary>
    private static TimeSpan UntilDeadline(Budget budget)
    {
        var remaining = budget.Remaining;
        if (ReferenceEquals(budget.Options.TimeProvider, TimeProvider.System))
        {
            remaining = TimeSpan.FromMilliseconds(Math.Ceiling(remaining.TotalMilliseconds)) + SystemTimerSlack;
        }

        return remaining > TimeSpan.Zero ? remaining : TimeSpan.FromTicks(1);
    }

    private static async ValueTask<Exception> AttributeRejectedAsync(Budget budget, TimeoutRejectedException rejected, bool continueOnCapturedContext)
    {
        if (!budget.Token.IsCancellationRequested && !budget.IsExpired)
        {
            // Polly's timer, armed for just after this budget's deadline, fired before it all the same (a timer on an
            // unusually coarse clock): the budget's own expiry is due within that moment.
            try
            {
                await Task.Delay(budget.Remaining, budget.Options.TimeProvider, budget.Token).ConfigureAwait(continueOnCapturedContext);
            }
            catch (OperationCanceledException)
            {
                // The budget ended: that is what is reported below.
            }
        }

        return Attribute(budget, rejected);
    }

    private static Exception Attribute(Budget budget, Exception cancelled)
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

    /// <summary>
    /// Inside Polly's timeout: runs the rest of the pipeline under the execution's budget and gives control back at its
    /// deadline even when the callback ignores its token (the monitor then tracks that work as abandoned). On expiry it
    /// returns only once the callback's token has cancelled: Polly stops that token's timer when this strategy returns.
    /// </summary>
    internal sealed class Guard : ResilienceStrategy
    {
        protected override async ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state)
        {
            if (!context.Properties.TryGetValue(BudgetResilienceKeys.Budget, out var budget) || budget is null)
            {
                return await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
            }

            // The token Polly's timeout hands the callback, armed for just after the budget's deadline.
            var callbackToken = context.CancellationToken;

            // State passed through, no closure: an execution that completes synchronously allocates nothing here.
            var result = await budget.TryRunAsync(static (run, _) => run.callback(run.context, run.state), (callback, context, state))
                .ConfigureAwait(context.ContinueOnCapturedContext);
            if (result.Outcome == BudgetOutcome.Completed)
            {
                return result.Value;
            }

            if (result.Outcome == BudgetOutcome.Expired && !callbackToken.IsCancellationRequested)
            {
                // Polly stops its timer as soon as we return: let it fire first, so the work still running sees its token cancel.
                await WhenCancelled(callbackToken).ConfigureAwait(context.ContinueOnCapturedContext);
            }

            return Outcome.FromException<TResult>(result.Exception!);
        }

        private static Task WhenCancelled(CancellationToken token)
        {
            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var registration = token.UnsafeRegister(static state => ((TaskCompletionSource)state!).TrySetResult(), cancelled);
            return cancelled.Task.ContinueWith(static (_, state) => ((CancellationTokenRegistration)state!).Dispose(), registration,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Options of <see cref="Guard"/>: only its name.</summary>
    internal sealed class GuardOptions : ResilienceStrategyOptions
    {
        public GuardOptions(BudgetTimeoutStrategyOptions options) => Name = options.Name is { } name ? name + ".Guard" : null;
    }
}
