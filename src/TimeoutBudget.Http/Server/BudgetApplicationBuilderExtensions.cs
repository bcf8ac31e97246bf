using TimeoutBudget.Http;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds <see cref="BudgetMiddleware"/> to an ASP.NET Core pipeline.</summary>
public static class BudgetApplicationBuilderExtensions
{
    /// <summary>
    /// Gives every request a root budget named <paramref name="layer"/>: the incoming deadline headers, capped by
    /// <paramref name="maximum"/>. Place it early, so time spent in later middleware counts.
    /// </summary>
    /// <param name="app">The pipeline.</param>
    /// <param name="layer">The root layer, e.g. the service's name.</param>
    /// <param name="maximum">Our own longest allowance for a request.</param>
    /// <returns>The pipeline.</returns>
    /// <exception cref="ArgumentException">The settings are invalid (checked now, at startup).</exception>
    public static IApplicationBuilder UseTimeoutBudget(this IApplicationBuilder app, string layer, TimeSpan maximum) =>
        app.UseTimeoutBudget(o =>
        {
            o.Layer = layer;
            o.Maximum = maximum;
        });

    /// <summary>Gives every request a root budget, configured in full.</summary>
    /// <param name="app">The pipeline.</param>
    /// <param name="configure">Sets the layer, maximum, honoured headers, budget options.</param>
    /// <returns>The pipeline.</returns>
    /// <exception cref="ArgumentException">The settings are invalid (checked now, at startup).</exception>
    public static IApplicationBuilder UseTimeoutBudget(this IApplicationBuilder app, Action<BudgetServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new BudgetServerOptions();
        configure(options);
        return app.UseMiddleware<BudgetMiddleware>(options.Validated());
    }
}
