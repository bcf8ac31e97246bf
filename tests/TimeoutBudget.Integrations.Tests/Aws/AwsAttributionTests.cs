using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using TimeoutBudget.Aws;
using TimeoutBudget.Integrations.Tests.Infrastructure;

namespace TimeoutBudget.Integrations.Tests.Aws;

/// <summary>
/// Issue 13, item 2: every SDK call that ends because a budget ran out surfaces as <see cref="BudgetExhaustedException"/>
/// naming a layer inside the SDK call, whatever token the caller passed; the caller's own cancellation is
/// <see cref="BudgetCancelledException"/>. Against a real endpoint on 127.0.0.1 that accepts and never answers in time,
/// with the SDK's default retries.
/// </summary>
public sealed class AwsAttributionTests
{
    public enum CallerToken
    {
        None,
        Independent,

        // What ASP.NET Core's RequestAborted is behind UseTimeoutBudget: the request budget's own token.
        TheBudgetsOwn,
    }

    private static AmazonSQSClient Client(SlowHttpServer server) =>
        new(new BasicAWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), new AmazonSQSConfig
        {
            ServiceURL = server.Url.ToString(),
            AuthenticationRegion = "us-east-1",
        });

    private static SendMessageRequest Message => new() { QueueUrl = "http://127.0.0.1/000000000000/orders", MessageBody = "order" };

    [Theory]
    [InlineData(CallerToken.None)]
    [InlineData(CallerToken.Independent)]
    [InlineData(CallerToken.TheBudgetsOwn)]
    public async Task A_budget_running_out_during_the_sdks_retries_names_the_sdk_layer_whatever_token_the_caller_passed(CallerToken kind)
    {
        AwsBudget.Register();
        await using var server = new SlowHttpServer(TimeSpan.FromSeconds(30));
        using var sqs = Client(server);
        using var caller = new CancellationTokenSource();
        using var orders = Budget.Start("orders", TimeSpan.FromMilliseconds(1500));
        var token = kind switch
        {
            CallerToken.Independent => caller.Token,
            CallerToken.TheBudgetsOwn => orders.Token,
            _ => CancellationToken.None,
        };

        var call = sqs.SendMessageAsync(Message, token);
        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.StartsWith("orders/aws-SendMessage", exception.Path, StringComparison.Ordinal);
        Assert.Contains(exception.Path, new[] { "orders/aws-SendMessage", "orders/aws-SendMessage/attempt" });
        Assert.NotEmpty(server.Requests);
    }

    [Fact]
    public async Task The_callers_own_cancellation_is_a_budget_cancellation_never_a_timeout()
    {
        AwsBudget.Register();
        await using var server = new SlowHttpServer(TimeSpan.FromSeconds(30));
        using var sqs = Client(server);
        using var caller = new CancellationTokenSource();
        using var orders = Budget.Start("orders", TimeSpan.FromSeconds(20));

        var call = sqs.SendMessageAsync(Message, caller.Token);
        await server.FirstRequest.Task.WaitAsync(TimeSpan.FromSeconds(10));
        caller.Cancel();
        var exception = await Assert.ThrowsAsync<BudgetCancelledException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("orders/aws-SendMessage", exception.Path);
        Assert.False(orders.Token.IsCancellationRequested);
    }
}
