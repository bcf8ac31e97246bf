using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace TimeoutBudget.Grpc.Tests.Integration;

/// <summary>A real gRPC server (Grpc.AspNetCore on Kestrel, HTTP/2 cleartext on 127.0.0.1) and a real Grpc.Net.Client channel.</summary>
public sealed class GrpcIntegrationTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ServerMaximum = TimeSpan.FromSeconds(5);

    // The server's margin (5 %, at least 250 ms): every call shorter than 5 s gets exactly 250 ms.
    private static readonly TimeSpan ServerMargin = TimeSpan.FromMilliseconds(250);

    private static readonly Marshaller<string> Utf8 = Marshallers.Create(Encoding.UTF8.GetBytes, Encoding.UTF8.GetString);
    private static readonly Method<string, string> Remaining = new(MethodType.Unary, "probe.Probe", "Remaining", Utf8, Utf8);
    private static readonly Method<string, string> SlowDb = new(MethodType.Unary, "probe.Probe", "SlowDb", Utf8, Utf8);
    private static readonly Method<string, string> Stuck = new(MethodType.Unary, "probe.Probe", "Stuck", Utf8, Utf8);

    private static readonly Method<string, string> Countdown = new(MethodType.ServerStreaming, "probe.Probe", "Countdown", Utf8, Utf8);

    private WebApplication? _server;
    private GrpcChannel? _channel;
    private CallInvoker? _invoker;

    /// <summary>The service, bound by hand instead of from generated code.</summary>
    public sealed class ProbeService(Stopping stopping)
    {
        public Task<string> RemainingAsync(string request, ServerCallContext context)
        {
            var budget = Budget.Current!;
            return Task.FromResult(string.Join('|',
                budget.Remaining.TotalMilliseconds.ToString(CultureInfo.InvariantCulture),
                budget.Path,
                (budget.Deadline.UtcDateTime - context.Deadline).TotalMilliseconds.ToString(CultureInfo.InvariantCulture),
                budget.Deadline.UtcTicks.ToString(CultureInfo.InvariantCulture)));
        }

        public async Task<string> SlowDbAsync(string request, ServerCallContext context)
        {
            // An inner layer that takes whatever the call's budget allows, waiting on a slow query.
            using var db = Budget.Current!.Child("db", Timeout.InfiniteTimeSpan);
            await db.RunAsync(token => Task.Delay(TimeSpan.FromSeconds(10), token));
            return "rows";
        }

        public async Task CountdownAsync(string request, IServerStreamWriter<string> responses, ServerCallContext context)
        {
            // Streams until its budget runs out, each message saying how much was left.
            var budget = Budget.Current!;
            while (true)
            {
                budget.ThrowIfExpired();
                await responses.WriteAsync(budget.Path + "|" + budget.Remaining.TotalMilliseconds.ToString(CultureInfo.InvariantCulture), context.CancellationToken);
                await Task.Delay(TimeSpan.FromMilliseconds(50), budget.Token);
            }
        }

        public async Task<string> StuckAsync(string request, ServerCallContext context)
        {
            // Ignores every token but the test's own.
            await Task.Delay(TimeSpan.FromSeconds(10), stopping.Token);
            return "late";
        }
    }

    public sealed class Stopping : IDisposable
    {
        private readonly CancellationTokenSource _source = new();

        public CancellationToken Token => _source.Token;

        public void Cancel() => _source.Cancel();

        public void Dispose() => _source.Dispose();
    }

    private sealed class ProbeMethods : IServiceMethodProvider<ProbeService>
    {
        public void OnServiceMethodDiscovery(ServiceMethodProviderContext<ProbeService> context)
        {
            context.AddUnaryMethod(Remaining, [], (service, request, call) => service.RemainingAsync(request, call));
            context.AddUnaryMethod(SlowDb, [], (service, request, call) => service.SlowDbAsync(request, call));
            context.AddUnaryMethod(Stuck, [], (service, request, call) => service.StuckAsync(request, call));
            context.AddServerStreamingMethod(Countdown, [], (service, request, responses, call) => service.CountdownAsync(request, responses, call));
        }
    }

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddSingleton<Stopping>();
        // Inner layers stop at least 250 ms before the call's deadline, leaving time to report which one ran out.
        builder.Services.AddGrpc(o => o.AddTimeoutBudget("inventory", ServerMaximum,
            new BudgetOptions { Margin = BudgetMargin.Fraction(0.05, ServerMargin) }));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceMethodProvider<ProbeService>, ProbeMethods>());
        _server = builder.Build();
        _server.MapGrpcService<ProbeService>();
        await _server.StartAsync().WaitAsync(Bound);
        var address = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Assert.StartsWith("http://127.0.0.1:", address, StringComparison.Ordinal);
        _channel = GrpcChannel.ForAddress(address);
        _invoker = _channel.WithTimeoutBudget();

        // Open the HTTP/2 connection and warm both ends once, as a running service would be: the tests measure deadlines
        // carried over a connection, not the first-call start-up of the process.
        await _invoker.AsyncUnaryCall(Remaining, null, new CallOptions(), "warm-up").ResponseAsync.WaitAsync(Bound);
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        if (_server is not null)
        {
            _server.Services.GetRequiredService<Stopping>().Cancel();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _server.StopAsync(stop.Token);
            await _server.DisposeAsync();
        }
    }

    /// <summary>What the server's call budget had left, its path, and how far its deadline is from ServerCallContext.Deadline.</summary>
    private async Task<(TimeSpan Remaining, string Path, TimeSpan Skew)> ProbeAsync(CallOptions options) =>
        (await ProbeWithDeadlineAsync(options)) is var (remaining, path, skew, _) ? (remaining, path, skew) : default;

    private async Task<(TimeSpan Remaining, string Path, TimeSpan Skew, DateTime Deadline)> ProbeWithDeadlineAsync(CallOptions options)
    {
        var text = await _invoker!.AsyncUnaryCall(Remaining, null, options, "probe").ResponseAsync.WaitAsync(Bound);
        var parts = text.Split('|');
        return (TimeSpan.FromMilliseconds(double.Parse(parts[0], CultureInfo.InvariantCulture)), parts[1],
            TimeSpan.FromMilliseconds(double.Parse(parts[2], CultureInfo.InvariantCulture)),
            new DateTime(long.Parse(parts[3], CultureInfo.InvariantCulture), DateTimeKind.Utc));
    }

    [Fact]
    public async Task A_call_made_inside_a_budget_carries_it_and_the_server_runs_under_it()
    {
        using var orchestrator = Budget.Start("orchestrator", TimeSpan.FromSeconds(2));
        var before = DateTime.UtcNow;
        var available = orchestrator.Available;

        var (remaining, path, skew, deadline) = await ProbeWithDeadlineAsync(new CallOptions());
        var after = DateTime.UtcNow;

        Assert.Equal("inventory", path);
        // The server's root budget ends the server's margin before the call's deadline, which is what the client could give
        // from the moment it sent (grpc-timeout is relative, so only the one-way trip on loopback may be added, never more).
        Assert.True(remaining <= available - ServerMargin + TimeSpan.FromMilliseconds(20), $"server had {remaining}, client could give {available}");
        Assert.InRange(deadline + ServerMargin, before + available - TimeSpan.FromMilliseconds(500), after + available + TimeSpan.FromMilliseconds(20));
        Assert.True(orchestrator.Deadline.UtcDateTime > deadline, "the server's budget outlasts the client's own");
        // Ending before the transport's deadline, by the margin, is what makes the outcome of a call that runs out certain.
        Assert.True((skew + ServerMargin).Duration() < TimeSpan.FromMilliseconds(2), $"budget deadline is {skew} from ServerCallContext.Deadline, not -{ServerMargin}");
    }

    [Fact]
    public async Task The_earlier_of_the_callers_deadline_and_the_budget_reaches_the_server()
    {
        using (Budget.Start("orchestrator", TimeSpan.FromSeconds(5)))
        {
            var (remaining, _, _) = await ProbeAsync(new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(600)));
            Assert.InRange(remaining, TimeSpan.Zero, TimeSpan.FromMilliseconds(600));
        }

        using (Budget.Start("orchestrator", TimeSpan.FromSeconds(1)))
        {
            var (remaining, _, _) = await ProbeAsync(new CallOptions(deadline: DateTime.UtcNow.AddHours(1)));
            Assert.InRange(remaining, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        }
    }

    [Fact]
    public async Task Without_a_budget_or_with_a_huge_deadline_the_server_keeps_its_own_maximum()
    {
        Assert.Null(Budget.Current);
        var (none, _, _) = await ProbeAsync(new CallOptions());
        Assert.InRange(none, ServerMaximum - TimeSpan.FromMilliseconds(500), ServerMaximum);

        var (huge, _, _) = await ProbeAsync(new CallOptions(deadline: DateTime.UtcNow.AddDays(30)));
        Assert.InRange(huge, ServerMaximum - TimeSpan.FromMilliseconds(500), ServerMaximum);
    }

    [Fact]
    public async Task A_server_layer_that_runs_out_is_named_to_the_client_before_the_clients_budget_ends()
    {
        using var orchestrator = Budget.Start("orchestrator", TimeSpan.FromMilliseconds(1500));

        var call = _invoker!.AsyncUnaryCall(SlowDb, null, new CallOptions(), "query");
        var failure = await Assert.ThrowsAsync<BudgetExhaustedException>(() => call.ResponseAsync.WaitAsync(Bound));

        Assert.Equal("db", failure.Layer);
        Assert.Equal("orchestrator/grpc/inventory/db", failure.Path);
        Assert.Equal(StatusCode.DeadlineExceeded, Assert.IsType<RpcException>(failure.InnerException).StatusCode);
        Assert.False(orchestrator.IsExpired, "the client's own budget ran out before the server's answer arrived");
    }

    [Fact]
    public async Task A_server_that_ignores_its_budget_is_cut_off_by_the_calls_deadline_and_the_call_is_named()
    {
        using var orchestrator = Budget.Start("orchestrator", TimeSpan.FromMilliseconds(800));
        var clock = Stopwatch.StartNew();

        var call = _invoker!.AsyncUnaryCall(Stuck, null, new CallOptions(), "wait");
        var failure = await Assert.ThrowsAsync<BudgetExhaustedException>(() => call.ResponseAsync.WaitAsync(Bound));

        Assert.Equal("orchestrator/grpc", failure.Path);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the call took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_streaming_call_gets_the_budgets_deadline_and_the_server_stream_runs_under_it()
    {
        using var orchestrator = Budget.Start("orchestrator", TimeSpan.FromMilliseconds(2500));
        var available = orchestrator.Available;
        var clock = Stopwatch.StartNew();
        using var call = _invoker!.AsyncServerStreamingCall(Countdown, null, new CallOptions(), "go");
        var seen = new List<TimeSpan>();

        var failure = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Bound))
            {
                var parts = call.ResponseStream.Current.Split('|');
                Assert.Equal("inventory", parts[0]);
                seen.Add(TimeSpan.FromMilliseconds(double.Parse(parts[1], CultureInfo.InvariantCulture)));
            }
        });

        // The stream ended when the server's budget did, the margin before the call's deadline: always DEADLINE_EXCEEDED
        // naming the server's layer, never the transport's cancellation, and not at the server's 5 s maximum.
        Assert.Equal(StatusCode.DeadlineExceeded, failure.StatusCode);
        Assert.Equal("inventory", call.GetTrailers().GetValue(BudgetGrpcMetadata.ExpiredTrailer));
        Assert.True(seen.Count >= 2, $"only {seen.Count} messages; {failure.Status} after {clock.Elapsed}");
        Assert.True(seen[0] <= available, $"the server started with {seen[0]}; the client could give {available}");
        Assert.True(seen.SequenceEqual(seen.OrderByDescending(t => t)), "the server's budget grew during the stream");
        Assert.True(clock.Elapsed < ServerMaximum - TimeSpan.FromMilliseconds(1000), $"the stream ran {clock.Elapsed}");
    }
}
