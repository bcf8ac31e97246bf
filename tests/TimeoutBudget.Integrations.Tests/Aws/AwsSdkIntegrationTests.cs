using System.Net.Sockets;
using Amazon;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using TimeoutBudget.Aws;
using TimeoutBudget.Integrations.Tests.Infrastructure;

namespace TimeoutBudget.Integrations.Tests.Aws;

/// <summary>Seed 000 scaled down (×1/50): an SDK read timeout of 240 s inside an async wait of 180 s becomes 4.8 s inside 3.6 s.</summary>
public sealed class AwsSdkIntegrationTests
{
    private static AmazonSQSClient Client(SlowHttpServer server, TimeSpan timeout, int retries, HttpClientFactory? httpClients = null) =>
        new(new BasicAWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), new AmazonSQSConfig
        {
            ServiceURL = server.Url.ToString(),
            AuthenticationRegion = "us-east-1",
            Timeout = timeout,
            MaxErrorRetry = retries,
            HttpClientFactory = httpClients ?? AWSConfigs.HttpClientFactory,
        });

    private static SendMessageRequest Message => new() { QueueUrl = "http://127.0.0.1/000000000000/jobs", MessageBody = "integrity-run" };

    [Fact]
    public async Task Without_a_budget_the_wait_gives_up_while_the_sdk_call_keeps_running()
    {
        await using var server = new SlowHttpServer(TimeSpan.FromSeconds(10));
        using var sqs = Client(server, TimeSpan.FromMilliseconds(4800), retries: 0);

        var call = sqs.SendMessageAsync(Message);
        await Assert.ThrowsAsync<TimeoutException>(() => call.WaitAsync(TimeSpan.FromMilliseconds(3600)));

        // The wait gave up; the SDK call and its request are still running: seed 000's orphan.
        Assert.False(call.IsCompleted);
        await server.FirstRequest.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(server.Requests[0].Ended);
        await Assert.ThrowsAnyAsync<Exception>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task With_the_integration_no_request_outlives_its_budget_and_the_layer_is_named()
    {
        AwsBudget.Register();
        await using var server = new SlowHttpServer(TimeSpan.FromSeconds(10));
        using var sqs = Client(server, TimeSpan.FromMilliseconds(4800), retries: 0);
        var monitor = new BudgetMonitor();

        Task<SendMessageResponse> call;
        BudgetExhaustedException exception;
        using (var wait = Budget.Start("wait", TimeSpan.FromMilliseconds(3600), new BudgetOptions { Monitor = monitor }))
        {
            call = sqs.SendMessageAsync(Message);
            exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));
        }

        // The SDK call ended when the budget did, and so did its HTTP request: nothing left running.
        Assert.True(call.IsCompleted);
        // The attempt asked for 4.8 s and was clamped inside the request's layer, which fits inside the wait: it ran out first.
        Assert.Equal("wait/aws-SendMessage/attempt", exception.Path);
        var served = Assert.Single(server.Requests);
        await served.EndedTask.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(served.Abandoned);
        Assert.True(served.Ended - served.Arrived < TimeSpan.FromSeconds(5), $"the request ran {served.Ended - served.Arrived}");
        Assert.Equal(0, monitor.OrphanCount);
    }

    [Fact]
    public async Task Each_attempt_is_clamped_to_what_remains_and_retries_stop_with_the_budget()
    {
        AwsBudget.Register();
        await using var server = new SlowHttpServer(TimeSpan.FromSeconds(10));
        // The SDK's own settings allow 3 attempts of 800 ms plus backoff; the budget allows 3 s in all.
        using var sqs = Client(server, TimeSpan.FromMilliseconds(800), retries: 2);

        using var job = Budget.Start("job", TimeSpan.FromSeconds(3));
        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => sqs.SendMessageAsync(Message).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.StartsWith("job/aws-SendMessage", exception.Path, StringComparison.Ordinal);
        Assert.True(server.Requests.Count is >= 1 and <= 3, $"{server.Requests.Count} requests; {exception}");
        foreach (var served in server.Requests)
        {
            // Every attempt was abandoned at its own clamp (800 ms asked), not left to the server's 10 s.
            await served.EndedTask.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(served.Abandoned);
            Assert.True(served.Ended - served.Arrived < TimeSpan.FromSeconds(3), $"an attempt ran {served.Ended - served.Arrived}");
        }
    }

    public static TheoryData<string> TornDownForms => new() { "cancellation over a reset socket", "transport error over an aborted socket" };

    /// <summary>
    /// Under load a cancelled request can fail with the socket's own error under (or instead of) the cancellation: the
    /// form seen in CI, where an attempt that expired was sent again although retries were off. The SDK resends a failure
    /// whose chain holds a reset or aborted socket as a stale pooled connection, outside MaxErrorRetry.
    /// </summary>
    [Theory]
    [MemberData(nameof(TornDownForms))]
    public async Task An_attempt_that_expires_is_not_resent_as_a_stale_connection_when_its_socket_is_torn_down(string form)
    {
        AwsBudget.Register();
        await using var server = new SlowHttpServer(TimeSpan.FromSeconds(10));
        Func<CancellationToken, Exception> cancelledAs = form.StartsWith("cancellation", StringComparison.Ordinal)
            ? token => new TaskCanceledException("The operation was canceled.", new IOException("Unable to read data from the transport connection.", new SocketException((int)SocketError.ConnectionReset)), token)
            : _ => new HttpRequestException("An error occurred while sending the request.", new IOException("Unable to read data from the transport connection.", new SocketException((int)SocketError.ConnectionAborted)));
        using var sqs = Client(server, TimeSpan.FromMilliseconds(4800), retries: 0, new TornDownOnCancel(cancelledAs));

        BudgetExhaustedException exception;
        using (Budget.Start("wait", TimeSpan.FromMilliseconds(600)))
        {
            exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => sqs.SendMessageAsync(Message).WaitAsync(TimeSpan.FromSeconds(30)));
        }

        Assert.Equal("wait/aws-SendMessage/attempt", exception.Path);
        var served = Assert.Single(server.Requests);
        await served.EndedTask.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(served.Abandoned);
        for (Exception? inner = exception; inner is not null; inner = inner.InnerException)
        {
            Assert.IsNotType<SocketException>(inner);
            Assert.IsNotType<IOException>(inner);
        }
    }

    /// <summary>The SDK's HTTP client, failing a cancelled request the way a torn-down socket can.</summary>
    private sealed class TornDownOnCancel(Func<CancellationToken, Exception> cancelledAs) : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new Handler(cancelledAs));

        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

        public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => true;

        private sealed class Handler(Func<CancellationToken, Exception> cancelledAs) : DelegatingHandler(new SocketsHttpHandler())
        {
            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                try
                {
                    return await base.SendAsync(request, cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw cancelledAs(cancellationToken);
                }
            }
        }
    }
}
