using Polly;
using Polly.Retry;

namespace TimeoutBudget.Polly;

/// <summary>Adds budget strategies to Polly v8 pipelines.</summary>
public static class BudgetResiliencePipelineBuilderExtensions
{
    /// <summary>
    /// Adds a timeout under which each execution runs in a child of <see cref="Budget.Current"/> (or a root). The token the
    /// callback receives (<c>pipeline.ExecuteAsync(ct =&gt; http.GetAsync(url, ct))</c>) cancels at that budget's deadline
    /// or when the pipeline's token does, so the work stops with the budget instead of being abandoned. On expiry the
    /// pipeline throws <see cref="BudgetExhaustedException"/> naming the layer, not an anonymous <c>TimeoutRejectedException</c>.
    /// </summary>
    /// <remarks>
    /// <para>One strategy is added: the callback receives the execution budget's own token, which cancels at its deadline,
    /// with the pipeline's token, and with any enclosing budget; the caller regains control at the deadline even when the
    /// callback ignores it. Polly v8 keeps the setter of <see cref="ResilienceContext.CancellationToken"/> internal; the
    /// strategy reaches it as Polly's own timeout does (through an <c>UnsafeAccessor</c>).</para>
    /// <para>With a Polly version that has no such setter, three strategies are added instead: the budget's; Polly's own
    /// timeout strategy (named after this one with <c>.Deadline</c>), which replaces the callback's token with one armed for
    /// the budget's deadline on the pipeline's <see cref="TimeProvider"/> (build the pipeline with the budgets' clock); and
    /// a guard (<c>.Guard</c>) that gives control back at the deadline when the callback ignores that token. A budget
    /// cancelled from further out (an enclosing budget's caller) then cancels the callback's token only through the
    /// pipeline's token, so pass the request's token to <c>ExecuteAsync</c>.</para>
    /// </remarks>
    /// <typeparam name="TBuilder">The builder type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="layer">The layer each execution runs as.</param>
    /// <param name="timeout">What each execution asks for.</param>
    /// <returns>The builder.</returns>
    public static TBuilder AddBudgetTimeout<TBuilder>(this TBuilder builder, string layer, TimeSpan timeout)
        where TBuilder : ResiliencePipelineBuilderBase =>
        builder.AddBudgetTimeout(new BudgetTimeoutStrategyOptions { Layer = layer, Timeout = timeout });

    /// <inheritdoc cref="AddBudgetTimeout{TBuilder}(TBuilder, string, TimeSpan)"/>
    /// <param name="builder">The builder.</param>
    /// <param name="options">The strategy's settings; validated when added.</param>
    public static TBuilder AddBudgetTimeout<TBuilder>(this TBuilder builder, BudgetTimeoutStrategyOptions options)
        where TBuilder : ResiliencePipelineBuilderBase
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        return AddBudgetTimeout(builder, options, BudgetTimeoutStrategy.ContextToken.IsReplaceable);
    }

    /// <summary>Adds the strategy in one of its two shapes: one strategy that owns the callback's token, or three (for tests of both).</summary>
    internal static TBuilder AddBudgetTimeout<TBuilder>(TBuilder builder, BudgetTimeoutStrategyOptions options, bool ownsToken)
        where TBuilder : ResiliencePipelineBuilderBase
    {
        if (ownsToken)
        {
            return builder.AddStrategy(context => new BudgetTimeoutStrategy(options, context.TimeProvider, ownsToken: true), options);
        }

        return builder.AddStrategy(context => new BudgetTimeoutStrategy(options, context.TimeProvider, ownsToken: false), options)
            .AddTimeout(BudgetTimeoutStrategy.DeadlineOptions(options))
            .AddStrategy(_ => new BudgetTimeoutStrategy.Guard(), new BudgetTimeoutStrategy.GuardOptions(options));
    }

    /// <summary>Adds a retry that stops, returning the last real outcome, when the next delay plus attempt cannot fit in the ambient budget.</summary>
    /// <typeparam name="TResult">The pipeline's result type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="retry">Polly's retry options (not changed; a wrapped copy is added).</param>
    /// <param name="admission">How to judge an attempt.</param>
    /// <returns>The builder.</returns>
    public static ResiliencePipelineBuilder<TResult> AddBudgetRetry<TResult>(this ResiliencePipelineBuilder<TResult> builder,
        RetryStrategyOptions<TResult> retry, BudgetRetryAdmissionOptions? admission = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddRetry(BudgetRetryAdmission.Apply(retry, admission));
    }

    /// <inheritdoc cref="AddBudgetRetry{TResult}(ResiliencePipelineBuilder{TResult}, RetryStrategyOptions{TResult}, BudgetRetryAdmissionOptions?)"/>
    public static ResiliencePipelineBuilder AddBudgetRetry(this ResiliencePipelineBuilder builder, RetryStrategyOptions retry, BudgetRetryAdmissionOptions? admission = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddRetry(BudgetRetryAdmission.Apply(retry, admission));
    }
}
