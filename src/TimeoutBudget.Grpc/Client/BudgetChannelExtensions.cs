using Grpc.Core;
using Grpc.Core.Interceptors;

namespace TimeoutBudget.Grpc;

/// <summary>Puts <see cref="BudgetClientInterceptor"/> on a channel.</summary>
public static class BudgetChannelExtensions
{
    /// <summary>A call invoker whose calls take their deadline from the ambient budget: <c>new Greeter.GreeterClient(channel.WithTimeoutBudget())</c>.</summary>
    /// <param name="channel">The channel, e.g. a <c>GrpcChannel</c>.</param>
    /// <param name="options">The settings; defaults when null.</param>
    /// <returns>The intercepted invoker.</returns>
    public static CallInvoker WithTimeoutBudget(this ChannelBase channel, BudgetGrpcClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(channel);
        return channel.Intercept(new BudgetClientInterceptor(options ?? new BudgetGrpcClientOptions()));
    }
}
