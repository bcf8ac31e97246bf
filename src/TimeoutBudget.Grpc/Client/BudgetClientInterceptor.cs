using Grpc.Core;
using Grpc.Core.Interceptors;

namespace TimeoutBudget.Grpc;

/// <summary>
/// Gives every call made inside a budget that budget's deadline: <c>CallOptions.Deadline</c> becomes now plus what a
/// child of the ambient budget could get (<see cref="Budget.Available"/>), or stays the caller's own when that is
/// earlier; a call without a cancellation token gets the budget's token. Outside any budget calls are left as they are.
/// </summary>
/// <remarks>
/// A call started after the ambient budget has run out fails at once with its <see cref="BudgetExhaustedException"/>,
/// without reaching the network. A unary call that ends in <c>DEADLINE_EXCEEDED</c> because of the budget, or because a
/// server budget ran out and named its layer in <see cref="BudgetGrpcMetadata.ExpiredTrailer"/>, throws a
/// <see cref="BudgetExhaustedException"/> naming the layer; streaming calls get the deadline and surface the
/// <see cref="RpcException"/> as gRPC does.
/// </remarks>
public sealed class BudgetClientInterceptor : Interceptor
{
    private readonly BudgetGrpcClientOptions _options;

    /// <summary>Creates the interceptor with default settings.</summary>
    public BudgetClientInterceptor()
        : this(new BudgetGrpcClientOptions())
    {
    }

    /// <summary>Creates the interceptor.</summary>
    /// <param name="options">The settings; copied and validated.</param>
    /// <exception cref="ArgumentException">The layer name is invalid.</exception>
    public BudgetClientInterceptor(BudgetGrpcClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Validated();
    }

    /// <inheritdoc />
    public override TResponse BlockingUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        BlockingUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var call = Prepare(context);
        try
        {
            return continuation(request, call.Context);
        }
        catch (RpcException exception) when (Translate(exception, call) is { } expired)
        {
            throw expired;
        }
    }

    /// <inheritdoc />
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var call = Prepare(context);
        var inner = continuation(request, call.Context);
        if (call.Budget is null || !_options.TranslateDeadlineExceeded)
        {
            return inner;
        }

        return new AsyncUnaryCall<TResponse>(TranslateAsync(inner.ResponseAsync, call), inner.ResponseHeadersAsync, inner.GetStatus, inner.GetTrailers, inner.Dispose);
    }

    /// <inheritdoc />
    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        return continuation(request, Prepare(context).Context);
    }

    /// <inheritdoc />
    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        return continuation(Prepare(context).Context);
    }

    /// <inheritdoc />
    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        return continuation(Prepare(context).Context);
    }

    /// <summary>The call's options with the budget applied, and what is needed to attribute a deadline later.</summary>
    internal Call<TRequest, TResponse> Prepare<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context)
        where TRequest : class
        where TResponse : class
    {
        var budget = Budget.Current;
        if (budget is null)
        {
            return new Call<TRequest, TResponse>(context, null, TimeSpan.Zero, BudgetDeadline: false, 0);
        }

        budget.ThrowIfExpired();
        var clock = budget.Options.TimeProvider;
        var started = clock.GetTimestamp();
        // grpc-timeout goes out in whole milliseconds rounded to nearest, which can add up to half a millisecond; granting whole
        // milliseconds only keeps the server's deadline from ever ending after ours.
        var available = budget.Available;
        var granted = TimeSpan.FromTicks(available.Ticks - available.Ticks % TimeSpan.TicksPerMillisecond);
        var ours = clock.GetUtcNow().UtcDateTime + granted;
        var options = context.Options;
        var theirs = options.Deadline is { } d && d != DateTime.MaxValue ? ToUtc(d) : (DateTime?)null;
        var budgetDeadline = theirs is null || ours < theirs.Value;
        if (budgetDeadline)
        {
            options = options.WithDeadline(ours);
        }

        if (!options.CancellationToken.CanBeCanceled)
        {
            options = options.WithCancellationToken(budget.Token);
        }

        return new Call<TRequest, TResponse>(new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, options),
            budget, granted, budgetDeadline, started);
    }

    private static DateTime ToUtc(DateTime deadline) => deadline.Kind switch
    {
        DateTimeKind.Local => deadline.ToUniversalTime(),
        DateTimeKind.Unspecified => DateTime.SpecifyKind(deadline, DateTimeKind.Utc),
        _ => deadline,
    };

    private async Task<TResponse> TranslateAsync<TRequest, TResponse>(Task<TResponse> response, Call<TRequest, TResponse> call)
        where TRequest : class
        where TResponse : class
    {
        try
        {
            return await response.ConfigureAwait(false);
        }
        catch (RpcException exception) when (Translate(exception, call) is { } expired)
        {
            throw expired;
        }
    }

    private BudgetExhaustedException? Translate<TRequest, TResponse>(RpcException exception, Call<TRequest, TResponse> call)
        where TRequest : class
        where TResponse : class
    {
        if (!_options.TranslateDeadlineExceeded || call.Budget is not { } budget || exception.StatusCode != StatusCode.DeadlineExceeded)
        {
            return null;
        }

        var method = call.Context.Method.FullName;
        var callPath = budget.Path + "/" + _options.Layer;
        var elapsed = budget.Options.TimeProvider.GetElapsedTime(call.Started);
        var remote = LayerPath.SanitizeRemote(exception.Trailers.GetValue(BudgetGrpcMetadata.ExpiredTrailer));
        if (remote is not null)
        {
            return new BudgetExhaustedException(LayerPath.LastSegment(remote), callPath + "/" + remote, call.Granted, elapsed,
                $"The server layer '{remote}' ran out of budget during {method}: '{budget.Path}' gave the call {DurationText.Format(call.Granted)} and waited {DurationText.Format(elapsed)}.",
                exception);
        }

        if (!call.BudgetDeadline)
        {
            // The caller's own, earlier deadline fired: theirs to report.
            return null;
        }

        return new BudgetExhaustedException(_options.Layer, callPath, call.Granted, elapsed,
            $"The '{_options.Layer}' call {method} ({callPath}) ran out: the deadline from '{budget.Path}' allowed {DurationText.Format(call.Granted)}, {DurationText.Format(elapsed)} elapsed.",
            exception);
    }

    internal readonly record struct Call<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> Context, Budget? Budget, TimeSpan Granted,
        bool BudgetDeadline, long Started)
        where TRequest : class
        where TResponse : class;
}
