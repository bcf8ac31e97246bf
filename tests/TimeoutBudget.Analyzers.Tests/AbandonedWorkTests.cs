using Verifier = TimeoutBudget.Analyzers.Tests.Verify<TimeoutBudget.Analyzers.AbandonedWorkAnalyzer>;

namespace TimeoutBudget.Analyzers.Tests;

public class AbandonedWorkTests
{
    [Fact]
    public Task Seed000_task_run_over_a_blocking_sdk_call() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            public Task PollAsync(AmazonSQSClient sqs, string queue) =>
                {|TB0004:Task.Run(() => sqs.ReceiveMessageAsync(queue).GetAwaiter().GetResult())|}.WaitAsync(TimeSpan.FromSeconds(180));
        }
        """);

    [Fact]
    public Task WaitAsync_over_a_call_that_could_take_a_token() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;

        class Fetcher
        {
            public Task<string> FetchAsync(HttpClient client, string url) =>
                {|TB0004:client.GetStringAsync(url)|}.WaitAsync(TimeSpan.FromSeconds(5));
        }
        """);

    [Fact]
    public Task WhenAny_with_a_delay_over_a_call_given_None() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            public async Task PollAsync(AmazonSQSClient sqs, string queue)
            {
                var work = sqs.ReceiveMessageAsync(queue, CancellationToken.None);
                await Task.WhenAny({|TB0004:work|}, Task.Delay(TimeSpan.FromSeconds(30)));
            }
        }
        """);

    [Fact]
    public Task Task_Wait_with_milliseconds_over_a_call_given_default() => Verifier.AnalyzerAsync("""
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            public bool Poll(AmazonSQSClient sqs, string queue) =>
                {|TB0004:sqs.ReceiveMessageAsync(queue, default)|}.Wait(30_000);
        }
        """);

    [Fact]
    public Task Work_given_the_timeout_token_or_produced_elsewhere_is_not_reported() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            public async Task PollAsync(AmazonSQSClient sqs, string queue, Task unknownWork, CancellationToken token)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await sqs.ReceiveMessageAsync(queue, cts.Token).WaitAsync(TimeSpan.FromSeconds(30));
                await unknownWork.WaitAsync(TimeSpan.FromSeconds(30));
                await Task.WhenAny(unknownWork, Task.Delay(1000));
                await Task.WhenAll(unknownWork, Task.Delay(1000));
                await Task.Run(async () => await sqs.ReceiveMessageAsync(queue, cts.Token)).WaitAsync(TimeSpan.FromSeconds(30));
                await sqs.ReceiveMessageAsync(queue).WaitAsync(Timeout.InfiniteTimeSpan);
            }
        }
        """);

    [Fact]
    public Task Work_given_the_callers_token_is_abandoned_when_the_wait_gives_up() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            public async Task PollAsync(AmazonSQSClient sqs, string queue, CancellationToken token)
            {
                await {|TB0004:sqs.ReceiveMessageAsync(queue, token)|}.WaitAsync(TimeSpan.FromSeconds(30));
                await {|TB0004:Task.Run(async () => await sqs.ReceiveMessageAsync(queue, token))|}.WaitAsync(TimeSpan.FromSeconds(30));
            }
        }
        """);
}

public class AbandonedWorkThroughTaskRunTests
{
    [Fact]
    public Task Task_run_returning_a_call_without_a_token_is_the_call() => Verify<AbandonedWorkAnalyzer>.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;

        class Fetcher
        {
            public Task<string> FetchAsync(HttpClient client, string url) =>
                Task.Run(() => {|TB0004:client.GetStringAsync(url)|}).WaitAsync(TimeSpan.FromSeconds(5));

            public Task<string> AsyncMethodGroupThatTakesNoToken() =>
                {|TB0004:Task.Run(LoadAsync)|}.WaitAsync(TimeSpan.FromSeconds(5));

            private static Task<string> LoadAsync() => Task.FromResult("x");
        }
        """);
}
