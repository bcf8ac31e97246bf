using Polly;
using Polly.Retry;

namespace TimeoutBudget.Polly;

/// <summary>Adds budget strategies to Polly v8 pipelines.</summary>
public static class BudgetResiliencePipelineBuilderExtensions
{
    /// <summary>
    /// Adds a timeout under which each execution runs in a child of <see cref="Budget.Current"/> (or a root). On expiry the
    /// pipeline throws <see cref="BudgetExhaustedException"/> naming the layer, not an anonymous <c>TimeoutRejectedException</c>.
    /// </summary>
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
        return builder.AddStrategy(context => new BudgetTimeoutStrategy(options, context.TimeProvider), options);
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
