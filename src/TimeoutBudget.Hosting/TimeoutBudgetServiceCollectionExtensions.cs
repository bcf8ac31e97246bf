using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TimeoutBudget;
using TimeoutBudget.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers TimeoutBudget with dependency injection.</summary>
public static class TimeoutBudgetServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="TimeoutBudgetHostingOptions"/> from <paramref name="configuration"/> (usually the <c>"TimeoutBudget"</c>
    /// section) and validates the plan on start, so a misaligned plan fails startup listing every violation. Registers the
    /// validated <see cref="BudgetPlan"/>, a <see cref="BudgetMonitor"/>, the shared <see cref="BudgetOptions"/> and the
    /// sweep as a hosted service. Uses the registered <see cref="TimeProvider"/> and <see cref="ILoggerFactory"/> when there are.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration section to bind.</param>
    /// <param name="configure">Further settings in code, such as <see cref="TimeoutBudgetHostingOptions.OnOverdue"/>.</param>
    /// <returns>The options builder, for more validation or configuration.</returns>
    public static OptionsBuilder<TimeoutBudgetHostingOptions> AddTimeoutBudget(this IServiceCollection services, IConfiguration configuration,
        Action<TimeoutBudgetHostingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        var builder = services.AddOptions<TimeoutBudgetHostingOptions>().Bind(configuration);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        builder.ValidateOnStart();
        var sectionPath = configuration is IConfigurationSection section ? section.Path : "configuration";
        services.AddSingleton<IPostConfigureOptions<TimeoutBudgetHostingOptions>>(new TimeoutBudgetOptionsSetup(sectionPath));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TimeoutBudgetHostingOptions>, TimeoutBudgetOptionsValidator>());

        services.TryAddSingleton(sp => new BudgetMonitor(sp.GetService<TimeProvider>(), loggerFactory: sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton(sp => new BudgetOptions
        {
            TimeProvider = sp.GetService<TimeProvider>() ?? TimeProvider.System,
            Monitor = sp.GetRequiredService<BudgetMonitor>(),
            LoggerFactory = sp.GetService<ILoggerFactory>(),
            Mode = sp.GetRequiredService<IOptions<TimeoutBudgetHostingOptions>>().Value.Mode,
        });
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<TimeoutBudgetHostingOptions>>().Value.ResolvedPlan
            ?? throw new InvalidOperationException("The timeout plan is not valid; see the options validation errors."));
        services.AddHostedService<BudgetMonitorHostedService>();
        return builder;
    }

    /// <summary>Adds a handler that the sweep calls once for each newly overdue item.</summary>
    /// <typeparam name="THandler">The handler type, resolved as a singleton.</typeparam>
    /// <param name="services">The services.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddOverdueWorkHandler<THandler>(this IServiceCollection services)
        where THandler : class, IOverdueWorkHandler
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOverdueWorkHandler, THandler>());
        return services;
    }
}
