using Grpc.Core;
using Grpc.Core.Interceptors;

namespace TimeoutBudget.Grpc;

/// <summary>
/// Makes <see cref="ServerCallContext.Deadline"/> the call's root budget, capped by our own maximum and linked to
/// <see cref="ServerCallContext.CancellationToken"/>: inside the handler it is <see cref="Budget.Current"/>. A call that
/// arrives with its deadline passed fails with <c>DEADLINE_EXCEEDED</c> before the handler runs; when a budget runs out
/// inside the handler, the call fails with <c>DEADLINE_EXCEEDED</c> and the layer's path in
/// <see cref="BudgetGrpcMetadata.ExpiredTrailer"/>.
/// </summary>
/// <remarks>
/// The call's budget ends a margin (<see cref="BudgetOptions.Margin"/> of the time the client gave) before the call's
/// deadline, as a child ends before its parent: grpc-dotnet cancels <see cref="ServerCallContext.CancellationToken"/> at
/// that deadline, so a budget ending at the same instant would be reported as expired or as cancelled by the caller
/// depending on which timer ran first. With the margin, a handler that stops with its budget always ends in
/// <c>DEADLINE_EXCEEDED</c> naming the layer, before the transport gives up.
/// </remarks>
public sealed class BudgetServerInterceptor : Interceptor
{
    private readonly BudgetGrpcServerOptions _options;

    /// <summary>Creates the interceptor.</summary>
    /// <param name="options">The settings; copied and validated.</param>
    /// <exception cref="ArgumentException">The settings are invalid.</exception>
    public BudgetServerInterceptor(BudgetGrpcServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Validated();
    }

    /// <inheritdoc />
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, () => continuation(request, context));

    /// <inheritdoc />
    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, () => continuation(requestStream, context));

    /// <inheritdoc />
    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, async () =>
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
            return true;
        });

    /// <inheritdoc />
    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, async () =>
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
            return true;
        });

    private async Task<T> RunAsync<T>(ServerCallContext context, Func<Task<T>> handler)
    {
        ArgumentNullException.ThrowIfNull(context);
        var deadline = context.Deadline == DateTime.MaxValue
            ? (DateTimeOffset?)null
            : new DateTimeOffset(context.Deadline.Kind == DateTimeKind.Local ? context.Deadline.ToUniversalTime() : DateTime.SpecifyKind(context.Deadline, DateTimeKind.Utc));
        using var budget = Budget.FromRemaining(_options.Layer, BeforeTransport(deadline), _options.Maximum, _options.BudgetOptions, context.CancellationToken);
        if (budget.IsExpired)
        {
            throw Expired(budget.Path, $"The '{budget.Layer}' budget ({budget.Path}) had already run out when {context.Method} arrived.", null);
        }

        try
        {
            return await handler().ConfigureAwait(false);
        }
        catch (Exception exception) when (budget.AsExpiry(exception) is { } expired)
        {
            throw Expired(expired.Path, expired.Message, expired);
        }
    }

    /// <summary>What the call's budget may use: the time to the call's deadline minus the margin, so it ends first.</summary>
    private TimeSpan? BeforeTransport(DateTimeOffset? deadline)
    {
        if (deadline is not { } incoming)
        {
            return null;
        }

        var options = _options.BudgetOptions ?? BudgetOptions.Default;
        var now = options.TimeProvider.GetUtcNow();
        if (incoming <= now)
        {
            return TimeSpan.Zero;
        }

        var remaining = incoming - now;
        var usable = remaining - options.Margin.For(remaining);
        return usable > TimeSpan.Zero ? usable : TimeSpan.Zero;
    }

    private static RpcException Expired(string path, string message, Exception? cause) =>
        new(new Status(StatusCode.DeadlineExceeded, message, cause), new Metadata { { BudgetGrpcMetadata.ExpiredTrailer, path } }, message);
}
