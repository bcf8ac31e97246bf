using TimeoutBudget.Http;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds <see cref="BudgetHandler"/> to clients made by <c>IHttpClientFactory</c>.</summary>
public static class BudgetHttpClientBuilderExtensions
{
    /// <summary>
    /// Runs every request of this client in a child budget named <paramref name="layer"/> that takes whatever the
    /// ambient budget can give, and sends the time left downstream in <c>x-timeout-budget-ms</c>.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="layer">The layer each request opens, e.g. <c>"transport"</c>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The layer name is invalid.</exception>
    public static IHttpClientBuilder AddTimeoutBudget(this IHttpClientBuilder builder, string layer) =>
        builder.AddTimeoutBudget(layer, _ => { });

    /// <summary>Runs every request of this client in a child budget named <paramref name="layer"/> asking for <paramref name="timeout"/>.</summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="layer">The layer each request opens.</param>
    /// <param name="timeout">What each request asks for; clamped to what the ambient budget can give.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The layer name is invalid or the timeout negative.</exception>
    public static IHttpClientBuilder AddTimeoutBudget(this IHttpClientBuilder builder, string layer, TimeSpan timeout) =>
        builder.AddTimeoutBudget(layer, o => o.Timeout = timeout);

    /// <summary>Runs every request of this client in a child budget named <paramref name="layer"/>, configured further.</summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="layer">The layer each request opens.</param>
    /// <param name="configure">Sets the timeout, headers, root options.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The settings are invalid (checked now, not on the first request).</exception>
    public static IHttpClientBuilder AddTimeoutBudget(this IHttpClientBuilder builder, string layer, Action<BudgetHttpClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new BudgetHttpClientOptions { Layer = layer };
        configure(options);
        options = options.Validated();
        return builder.AddHttpMessageHandler(() => new BudgetHandler(options));
    }
}
