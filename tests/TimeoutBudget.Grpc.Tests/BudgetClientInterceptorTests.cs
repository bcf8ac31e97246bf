using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Grpc.Tests;

public sealed class BudgetClientInterceptorTests
{
    private static readonly Method<string, string> Probe = new(MethodType.Unary, "test.Probe", "Call",
        Marshallers.Create<string>(_ => [], _ => string.Empty), Marshallers.Create<string>(_ => [], _ => string.Empty));

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private readonly BudgetOptions _options;

    public BudgetClientInterceptorTests()
    {
        _options = new BudgetOptions { TimeProvider = _clock, Margin = BudgetMargin.Absolute(TimeSpan.FromMilliseconds(100)) };
    }

    private static AsyncUnaryCall<string> Answer(Task<string> response) =>
        new(response, Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });

    /// <summary>Runs one unary call through the interceptor and returns the options the transport would have used.</summary>
    private static (CallOptions Options, AsyncUnaryCall<string> Call) Send(CallOptions options, Func<Task<string>>? response = null)
    {
        CallOptions? seen = null;
        var call = new BudgetClientInterceptor().AsyncUnaryCall("x", new ClientInterceptorContext<string, string>(Probe, null, options),
            (_, context) =>
            {
                seen = context.Options;
                return Answer(response?.Invoke() ?? Task.FromResult("ok"));
            });
        return (seen!.Value, call);
    }

    [Fact]
    public void Outside_any_budget_a_call_is_left_as_it_is()
    {
        var (options, _) = Send(new CallOptions());
        Assert.Null(options.Deadline);
        Assert.False(options.CancellationToken.CanBeCanceled);
    }

    [Fact]
    public void Inside_a_budget_a_call_without_a_deadline_gets_what_a_child_could_have_and_the_budgets_token()
    {
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        _clock.Advance(TimeSpan.FromSeconds(1));

        var (options, _) = Send(new CallOptions());

        Assert.Equal(_clock.GetUtcNow().UtcDateTime + TimeSpan.FromMilliseconds(1900), options.Deadline);
        Assert.Equal(DateTimeKind.Utc, options.Deadline!.Value.Kind);
        Assert.Equal(root.Token, options.CancellationToken);
    }

    [Fact]
    public void The_deadline_sent_is_whole_milliseconds_never_more_than_the_budget_has()
    {
        // grpc-timeout travels in whole milliseconds; a fraction rounded up on the wire would give the server more than we had.
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        _clock.Advance(TimeSpan.FromTicks(1_000_0001)); // 1 s and 100 ns: 1,899.9999 ms left for a child

        var (options, _) = Send(new CallOptions());

        var sent = options.Deadline!.Value - _clock.GetUtcNow().UtcDateTime;
        Assert.Equal(TimeSpan.FromMilliseconds(1899), sent);
        Assert.True(sent <= root.Available);
    }

    [Fact]
    public void The_earlier_of_the_callers_deadline_and_the_budgets_wins()
    {
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        var now = _clock.GetUtcNow().UtcDateTime;
        using var caller = new CancellationTokenSource();

        var (earlier, _) = Send(new CallOptions(deadline: now.AddMilliseconds(500), cancellationToken: caller.Token));
        Assert.Equal(now.AddMilliseconds(500), earlier.Deadline);
        Assert.Equal(caller.Token, earlier.CancellationToken);

        var (later, _) = Send(new CallOptions(deadline: now.AddHours(1)));
        Assert.Equal(now.AddMilliseconds(2900), later.Deadline);

        var (none, _) = Send(new CallOptions(deadline: DateTime.MaxValue));
        Assert.Equal(now.AddMilliseconds(2900), none.Deadline);
    }

    [Fact]
    public void No_call_starts_once_the_budget_has_run_out()
    {
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(1), _options);
        _clock.Advance(TimeSpan.FromSeconds(1));
        var started = false;

        var failure = Assert.Throws<BudgetExhaustedException>(() => new BudgetClientInterceptor().AsyncUnaryCall("x",
            new ClientInterceptorContext<string, string>(Probe, null, new CallOptions()), (_, _) =>
            {
                started = true;
                return Answer(Task.FromResult("ok"));
            }));

        Assert.Equal("orchestrator", failure.Path);
        Assert.False(started);
    }

    [Fact]
    public async Task Deadline_exceeded_under_the_budgets_deadline_names_the_call_layer()
    {
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        var (_, call) = Send(new CallOptions(), () => Task.FromException<string>(new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"))));

        var failure = await Assert.ThrowsAsync<BudgetExhaustedException>(() => call.ResponseAsync);

        Assert.Equal("grpc", failure.Layer);
        Assert.Equal("orchestrator/grpc", failure.Path);
        Assert.IsType<RpcException>(failure.InnerException);
    }

    [Fact]
    public async Task Deadline_exceeded_with_the_servers_trailer_names_the_server_layer()
    {
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        var trailers = new Metadata { { BudgetGrpcMetadata.ExpiredTrailer, "inventory/db" } };
        var (_, call) = Send(new CallOptions(deadline: _clock.GetUtcNow().UtcDateTime.AddMilliseconds(500)),
            () => Task.FromException<string>(new RpcException(new Status(StatusCode.DeadlineExceeded, "db"), trailers)));

        var failure = await Assert.ThrowsAsync<BudgetExhaustedException>(() => call.ResponseAsync);

        Assert.Equal("db", failure.Layer);
        Assert.Equal("orchestrator/grpc/inventory/db", failure.Path);
    }

    [Fact]
    public async Task The_callers_own_earlier_deadline_and_other_failures_stay_rpc_exceptions()
    {
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        var (_, theirs) = Send(new CallOptions(deadline: _clock.GetUtcNow().UtcDateTime.AddMilliseconds(500)),
            () => Task.FromException<string>(new RpcException(new Status(StatusCode.DeadlineExceeded, "theirs"))));
        Assert.Equal(StatusCode.DeadlineExceeded, (await Assert.ThrowsAsync<RpcException>(() => theirs.ResponseAsync)).StatusCode);

        var (_, unavailable) = Send(new CallOptions(), () => Task.FromException<string>(new RpcException(new Status(StatusCode.Unavailable, "down"))));
        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => unavailable.ResponseAsync)).StatusCode);
    }

    [Fact]
    public void A_blocking_call_is_translated_too()
    {
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        var failure = Assert.Throws<BudgetExhaustedException>(() => new BudgetClientInterceptor().BlockingUnaryCall("x",
            new ClientInterceptorContext<string, string>(Probe, null, new CallOptions()),
            (_, _) => throw new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"))));
        Assert.Equal("orchestrator/grpc", failure.Path);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    public void Invalid_layer_names_fail_when_configured(string layer) =>
        Assert.Throws<ArgumentException>(() => new BudgetClientInterceptor(new BudgetGrpcClientOptions { Layer = layer }));

    [Fact]
    public void Invalid_server_settings_fail_when_configured()
    {
        Assert.Throws<ArgumentException>(() => new BudgetServerInterceptor(new BudgetGrpcServerOptions { Layer = " " }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetServerInterceptor(new BudgetGrpcServerOptions { Maximum = TimeSpan.Zero }));
    }
}
