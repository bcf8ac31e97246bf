using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using TimeoutBudget.Aws;
using TimeoutBudget.Integrations.Tests.Infrastructure;

namespace TimeoutBudget.Integrations.Tests.Aws;

/// <summary>Seed 000 scaled down (×1/50): an SDK read timeout of 240 s inside an async wait of 180 s becomes 4.8 s inside 3.6 s.</summary>
public sealed class AwsSdkIntegrationTests
{
    private static AmazonSQSClient Client(SlowHttpServer server, TimeSpan timeout, int retries) =>
        new(new BasicAWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), new AmazonSQSConfig
        {
            ServiceURL = server.Url.ToString(),
            AuthenticationRegion = "us-east-1",
            Timeout = timeout,
            MaxErrorRetry = retries,
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
}
