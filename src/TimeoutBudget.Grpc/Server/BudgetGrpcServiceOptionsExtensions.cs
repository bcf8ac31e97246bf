using Grpc.AspNetCore.Server;
using TimeoutBudget.Grpc;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="BudgetServerInterceptor"/> with a gRPC server.</summary>
public static class BudgetGrpcServiceOptionsExtensions
{
    /// <summary>
    /// Gives every call a root budget named <paramref name="layer"/> from its deadline, capped by <paramref name="maximum"/>:
    /// <c>services.AddGrpc(o =&gt; o.AddTimeoutBudget("inventory", TimeSpan.FromSeconds(5)))</c>.
    /// </summary>
    /// <param name="options">The gRPC server options.</param>
    /// <param name="layer">The root layer, e.g. the service's name.</param>
    /// <param name="maximum">Our own longest allowance for a call.</param>
    /// <param name="budgetOptions">Settings for each call's budget; <see cref="TimeoutBudget.BudgetOptions.Default"/> when null.</param>
    /// <returns>The options.</returns>
    /// <exception cref="ArgumentException">The settings are invalid (checked now, at startup).</exception>
    public static GrpcServiceOptions AddTimeoutBudget(this GrpcServiceOptions options, string layer, TimeSpan maximum, TimeoutBudget.BudgetOptions? budgetOptions = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = new BudgetGrpcServerOptions { Layer = layer, Maximum = maximum, BudgetOptions = budgetOptions }.Validated();
        options.Interceptors.Add<BudgetServerInterceptor>(settings);
        return options;
    }
}
