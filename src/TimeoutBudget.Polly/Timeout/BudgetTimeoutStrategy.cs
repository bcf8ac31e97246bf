using System.Runtime.CompilerServices;
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
/// <para>Polly v8 declares the setter of <see cref="ResilienceContext.CancellationToken"/> internal: only its own strategies
/// replace the token. Where that setter exists (<see cref="ContextToken.IsReplaceable"/>, checked once), this strategy
/// alone does everything: it hands the callback the budget's own token, gives control back at the deadline when the
/// callback ignores it, and restores the pipeline's token before the outcome reaches the strategies around it (a retry
/// reads it). Otherwise it is three in a row: this one opens the budget and attributes the outcome; Polly's timeout
/// strategy (<see cref="DeadlineOptions"/>) hands the callback a token armed for the budget's deadline; <see cref="Guard"/>,
/// inside it, gives control back at the deadline when the callback ignores that token.</para>
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

    // Whether this strategy hands the callback the budget's token itself (no Polly timeout and guard inside it).
    private readonly bool _ownsToken;

    public BudgetTimeoutStrategy(BudgetTimeoutStrategyOptions options, TimeProvider timeProvider, bool ownsToken)
    {
        _ownsToken = ownsToken;
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
        // An async method even when everything completes synchronously: it gives the caller's flow back its execution
        // context on return, so the budget is Current inside the callback and never outside this strategy.
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
        if (!_ownsToken)
        {
            return await ExecuteInsideDeadlineAsync(callback, context, state, budget, previousBudget).ConfigureAwait(context.ContinueOnCapturedContext);
        }

        var pipelineToken = context.CancellationToken;
        try
        {
            ContextToken.Set(context, budget.Token);

            // State passed through, no closure: an execution that completes synchronously allocates nothing here, and
            // the budget gives control back at its deadline even when the callback ignores the token.
            var result = await budget.TryRunAsync(static (run, _) => run.callback(run.context, run.state), (callback, context, state))
                .ConfigureAwait(context.ContinueOnCapturedContext);
            return ToOutcome(budget, result);
        }
        finally
        {
            // The pipeline's token back before the outcome reaches the strategies around this one (a retry reads it).
            ContextToken.Set(context, pipelineToken);
            context.Properties.Set(BudgetResilienceKeys.Budget, previousBudget!);
            budget.Dispose();
        }
    }

    /// <summary>What the pipeline sees of one execution run under the budget with its own token.</summary>
    private static Outcome<TResult> ToOutcome<TResult>(Budget budget, BudgetResult<Outcome<TResult>> result)
    {
        if (result.Outcome != BudgetOutcome.Completed)
        {
            // Expired (also when the callback ignored the token) or cancelled by the caller, already attributed.
            return Outcome.FromException<TResult>(result.Exception!);
        }

        var outcome = result.Value;
        return outcome.Exception is OperationCanceledException cancelled and not BudgetCancelledException
            && (budget.Token.IsCancellationRequested || budget.IsExpired)
            // The callback observed our token: say whose deadline (or caller) it was.
            ? Outcome.FromException<TResult>(Attribute(budget, cancelled))
            : outcome;
    }

    /// <summary>The three-strategy shape: Polly's timeout and <see cref="Guard"/> run inside this one.</summary>
    private static async ValueTask<Outcome<TResult>> ExecuteInsideDeadlineAsync<TResult, TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state, Budget budget, Budget? previousBudget)
    {
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

    /// <summary>
    /// Replaces <see cref="ResilienceContext.CancellationToken"/>, whose setter Polly v8 keeps internal, through an
    /// <see cref="UnsafeAccessorAttribute"/>: what Polly's own timeout strategy does, without a second strategy and a second
    /// timer per execution.
    /// </summary>
    internal static class ContextToken
    {
        /// <summary>Whether this Polly version has the setter (checked once); when not, the three-strategy shape is used.</summary>
        public static readonly bool IsReplaceable = Probe();

        public static void Set(ResilienceContext context, CancellationToken token) => SetCancellationToken(context, token);

        [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "set_CancellationToken")]
        private static extern void SetCancellationToken(ResilienceContext context, CancellationToken token);

        private static bool Probe()
        {
            var context = ResilienceContextPool.Shared.Get();
            try
            {
                using var source = new CancellationTokenSource();
                SetCancellationToken(context, source.Token);
                return context.CancellationToken == source.Token;
            }
            catch (MissingMethodException)
            {
                return false;
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
        }
    }

    /// <summary>Options of <see cref="Guard"/>: only its name.</summary>
    internal sealed class GuardOptions : ResilienceStrategyOptions
    {
        public GuardOptions(BudgetTimeoutStrategyOptions options) => Name = options.Name is { } name ? name + ".Guard" : null;
    }
}
