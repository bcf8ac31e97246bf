using Verifier = TimeoutBudget.Analyzers.Tests.Verify<TimeoutBudget.Analyzers.UnboundedOperationAnalyzer>;

namespace TimeoutBudget.Analyzers.Tests;

public class UnboundedOperationTests
{
    [Fact]
    public Task Seed003_fetch_with_an_infinite_timeout_and_no_token() => Verifier.AnalyzerAsync("""
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            private readonly HttpClient _http;

            public Fetcher(HttpClient http)
            {
                http.Timeout = Timeout.InfiniteTimeSpan;
                _http = http;
            }

            public Task<string> FetchAsync(string url) => {|TB0005:_http.GetStringAsync(url)|};
        }
        """);

    [Fact]
    public Task Process_waits_without_timeout_or_token() => Verifier.AnalyzerAsync("""
        using System.Diagnostics;
        using System.Threading.Tasks;

        class Runner
        {
            public async Task RunAsync(Process process)
            {
                {|TB0005:process.WaitForExit()|};
                await {|TB0005:process.WaitForExitAsync()|};
            }
        }
        """);

    [Fact]
    public Task Sdk_client_configured_with_an_infinite_timeout() => Verifier.AnalyzerAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            public Task PollAsync(string queue)
            {
                var sqs = new AmazonSQSClient(new AmazonSQSConfig { Timeout = Timeout.InfiniteTimeSpan });
                return {|TB0005:sqs.ReceiveMessageAsync(queue)|};
            }
        }
        """);

    [Fact]
    public Task Bounded_calls_and_unwritten_defaults_are_not_reported() => Verifier.AnalyzerAsync("""
        using System;
        using System.Diagnostics;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task RunAsync(Process process, string url, CancellationToken token)
            {
                var defaultClient = new HttpClient();
                await defaultClient.GetStringAsync(url);

                var infinite = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await infinite.GetStringAsync(url, cts.Token);
                await infinite.GetStringAsync(url, token);
                await infinite.GetStringAsync(url).WaitAsync(TimeSpan.FromSeconds(30));

                process.WaitForExit(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(cts.Token);
            }
        }
        """);
}
