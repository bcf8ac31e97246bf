using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Http.Tests;

public sealed class BudgetHandlerTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly BudgetOptions _options;

    public BudgetHandlerTests()
    {
        _options = new BudgetOptions { TimeProvider = _clock, Margin = BudgetMargin.Absolute(TimeSpan.FromMilliseconds(100)) };
    }

    /// <summary>Stands in for the network: records what was sent and answers as told.</summary>
    private sealed class Recorder(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        public List<(HttpRequestMessage Request, Budget? Ambient, CancellationToken Token)> Sent { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Sent.Add((request, Budget.Current, cancellationToken));
            return answer(request, cancellationToken);
        }
    }

    private static Recorder Ok() => new((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)));

    private static HttpMessageInvoker Client(BudgetHttpClientOptions options, HttpMessageHandler inner) => new(new BudgetHandler(options, inner));

    private static string Header(HttpRequestMessage request, string name) => Assert.Single(request.Headers.GetValues(name));

    [Fact]
    public async Task Each_request_runs_in_a_child_of_the_ambient_budget_and_sends_what_it_may_use()
    {
        var recorder = Ok();
        using var client = Client(new BudgetHttpClientOptions { Layer = "transport", Headers = BudgetHeaderKinds.All }, recorder);
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        _clock.Advance(TimeSpan.FromSeconds(1));

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/x"), CancellationToken.None);

        var (request, ambient, token) = Assert.Single(recorder.Sent);
        Assert.Equal("orchestrator/transport", ambient!.Path);
        Assert.Equal(ambient.Token, token);
        // 2 s left − 100 ms margin for the transport child − 100 ms margin for the downstream service.
        Assert.Equal(TimeSpan.FromMilliseconds(1900), ambient.Allotted);
        Assert.Equal("1800", Header(request, BudgetHeaders.Remaining));
        Assert.Equal("1800", Header(request, BudgetHeaders.EnvoyExpectedTimeout));
        Assert.Equal("1800000u", Header(request, BudgetHeaders.GrpcTimeout));
        Assert.Same(root, Budget.Current);
    }

    /// <summary>A body that never finishes arriving: every read waits until its token is cancelled.</summary>
    private sealed class StalledBody : Stream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            return 0;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task The_budget_covers_the_body_and_ends_when_the_body_has_been_read()
    {
        using var monitor = new BudgetMonitor(_clock);
        var options = _options with { Monitor = monitor };
        var recorder = new Recorder((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("payload") }));
        using var client = new HttpClient(new BudgetHandler(new BudgetHttpClientOptions { Layer = "fetch" }, recorder));
        using var root = Budget.Start("run", TimeSpan.FromSeconds(3), options);

        using (var response = await client.GetAsync("http://127.0.0.1/x", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(2, monitor.LiveCount); // run, and fetch still holding the unread body
            Assert.Equal("payload", await response.Content.ReadAsStringAsync());
            Assert.Equal(1, monitor.LiveCount); // read to the end: fetch is over
        }

        using (await client.GetAsync("http://127.0.0.1/x", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(2, monitor.LiveCount);
        }

        Assert.Equal(1, monitor.LiveCount); // disposed unread: over too
        Assert.Equal("payload", await client.GetStringAsync("http://127.0.0.1/x"));
        Assert.Equal(1, monitor.LiveCount);
    }

    [Fact]
    public async Task A_body_that_stalls_past_the_layers_deadline_fails_naming_that_layer()
    {
        var recorder = new Recorder((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new StalledBody()) }));
        using var client = new HttpClient(new BudgetHandler(new BudgetHttpClientOptions { Layer = "fetch", Timeout = TimeSpan.FromSeconds(1) }, recorder));
        using var root = Budget.Start("run", TimeSpan.FromSeconds(30), _options);

        var reading = client.GetStringAsync("http://127.0.0.1/x");
        Assert.False(reading.IsCompleted);
        _clock.Advance(TimeSpan.FromSeconds(1));

        var expired = await Assert.ThrowsAsync<BudgetExhaustedException>(() => reading.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("run/fetch", expired.Path);
        Assert.False(root.Token.IsCancellationRequested);
    }

    [Fact]
    public async Task A_shorter_header_already_on_the_request_is_kept_and_a_longer_one_replaced()
    {
        var recorder = Ok();
        using var client = Client(new BudgetHttpClientOptions { Headers = BudgetHeaderKinds.All }, recorder);
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        var message = new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/x");
        message.Headers.TryAddWithoutValidation(BudgetHeaders.GrpcTimeout, "500m");
        message.Headers.TryAddWithoutValidation(BudgetHeaders.Remaining, "999999");
        message.Headers.TryAddWithoutValidation(BudgetHeaders.EnvoyExpectedTimeout, "not-a-number");

        using var response = await client.SendAsync(message, CancellationToken.None);

        Assert.Equal("500m", Header(message, BudgetHeaders.GrpcTimeout));
        Assert.Equal("2800", Header(message, BudgetHeaders.Remaining));
        Assert.Equal("2800", Header(message, BudgetHeaders.EnvoyExpectedTimeout));
    }

    [Fact]
    public async Task Without_an_ambient_budget_the_request_opens_a_root_of_its_own_timeout()
    {
        var recorder = Ok();
        using var client = Client(new BudgetHttpClientOptions { Layer = "fetch", Timeout = TimeSpan.FromSeconds(2), RootOptions = _options }, recorder);

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/x"), CancellationToken.None);

        var (request, ambient, _) = Assert.Single(recorder.Sent);
        Assert.Equal("fetch", ambient!.Path);
        Assert.Null(ambient.Parent);
        Assert.Equal("1900", Header(request, BudgetHeaders.Remaining));
        Assert.False(request.Headers.Contains(BudgetHeaders.GrpcTimeout));
        Assert.Null(Budget.Current);
    }

    [Fact]
    public async Task A_request_that_outlives_its_budget_fails_naming_the_transport_layer()
    {
        var recorder = new Recorder(async (_, token) =>
        {
            await Task.Delay(Timeout.Infinite, token);
            return new HttpResponseMessage(HttpStatusCode.OK);
        });
        using var client = Client(new BudgetHttpClientOptions { Layer = "transport" }, recorder);
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);

        var sending = client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/x"), CancellationToken.None);
        _clock.Advance(TimeSpan.FromMilliseconds(2900));

        var failure = await Assert.ThrowsAsync<BudgetExhaustedException>(() => sending.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("orchestrator/transport", failure.Path);
        Assert.False(root.IsExpired);
    }

    [Fact]
    public async Task No_request_is_sent_once_the_ambient_budget_has_run_out()
    {
        var recorder = Ok();
        using var client = Client(new BudgetHttpClientOptions(), recorder);
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(1), _options);
        _clock.Advance(TimeSpan.FromSeconds(1));

        var failure = await Assert.ThrowsAsync<BudgetExhaustedException>(() => client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/x"), CancellationToken.None));
        Assert.Equal("orchestrator", failure.Path);
        Assert.Empty(recorder.Sent);
    }

    [Fact]
    public async Task The_callers_cancellation_is_not_reported_as_a_timeout()
    {
        var recorder = new Recorder(async (_, token) =>
        {
            await Task.Delay(Timeout.Infinite, token);
            return new HttpResponseMessage(HttpStatusCode.OK);
        });
        using var client = Client(new BudgetHttpClientOptions(), recorder);
        using var root = Budget.Start("orchestrator", TimeSpan.FromSeconds(3), _options);
        using var caller = new CancellationTokenSource();

        var sending = client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/x"), caller.Token);
        await caller.CancelAsync();

        var failure = await Assert.ThrowsAsync<BudgetCancelledException>(() => sending.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("orchestrator/transport", failure.Path);
    }

    [Fact]
    public async Task A_downstream_504_naming_a_layer_becomes_an_exception_naming_it()
    {
        var recorder = new Recorder((_, _) =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.GatewayTimeout);
            response.Headers.TryAddWithoutValidation(BudgetHeaders.Expired, "service-c/db");
            return Task.FromResult(response);
        });
        using var client = Client(new BudgetHttpClientOptions(), recorder);
        using var root = Budget.Start("service-b", TimeSpan.FromSeconds(3), _options);

        var failure = await Assert.ThrowsAsync<BudgetExhaustedException>(() => client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/x"), CancellationToken.None));

        Assert.Equal("db", failure.Layer);
        Assert.Equal("service-b/transport/service-c/db", failure.Path);
        Assert.Contains("service-c/db", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plain_504_or_one_with_the_option_off_is_returned_as_it_came()
    {
        var recorder = new Recorder((_, _) =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.GatewayTimeout);
            response.Headers.TryAddWithoutValidation(BudgetHeaders.Expired, "service-c");
            return Task.FromResult(response);
        });
        using var client = Client(new BudgetHttpClientOptions { ThrowOnDownstreamExpiry = false }, recorder);
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/x"), CancellationToken.None);
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);

        using var plain = Client(new BudgetHttpClientOptions(), new Recorder((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.GatewayTimeout))));
        using var plainResponse = await plain.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/x"), CancellationToken.None);
        Assert.Equal(HttpStatusCode.GatewayTimeout, plainResponse.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    public void Invalid_layer_names_fail_when_configured(string layer) =>
        Assert.Throws<ArgumentException>(() => new BudgetHandler(new BudgetHttpClientOptions { Layer = layer }));

    [Fact]
    public void A_negative_timeout_fails_when_configured() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetHandler(new BudgetHttpClientOptions { Timeout = TimeSpan.FromSeconds(-1) }));
}
