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
    /// Three strategies are added: the budget's; Polly's own timeout strategy (named after this one with
    /// <c>.Deadline</c>), which is what can replace the callback's token in Polly v8; and a guard (<c>.Guard</c>) that
    /// gives control back at the deadline when the callback ignores that token. Its timer runs on the pipeline's
    /// <see cref="TimeProvider"/>: build the pipeline with the budgets' clock. A budget cancelled from further out (an
    /// enclosing budget's caller) cancels the callback's token only through the pipeline's token, so pass the request's
    /// token to <c>ExecuteAsync</c>; the caller regains control at once either way.
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
        return builder.AddStrategy(context => new BudgetTimeoutStrategy(options, context.TimeProvider), options)
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
