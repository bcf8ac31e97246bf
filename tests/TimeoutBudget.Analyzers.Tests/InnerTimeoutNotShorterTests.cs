using Verifier = TimeoutBudget.Analyzers.Tests.Verify<TimeoutBudget.Analyzers.NestedTimeoutAnalyzer>;

namespace TimeoutBudget.Analyzers.Tests;

public class InnerTimeoutNotShorterTests
{
    [Fact]
    public Task Seed000_sdk_timeout_longer_than_the_wait_around_it() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            private readonly AmazonSQSClient _sqs;

            public Poller()
            {
                var config = new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(240) };
                _sqs = new AmazonSQSClient(config);
            }

            public Task PollAsync(string queue) =>
                Task.Run(() => _sqs.ReceiveMessageAsync(queue).GetAwaiter().GetResult()).{|TB0001:WaitAsync(TimeSpan.FromSeconds(180))|};
        }
        """);

    [Fact]
    public Task Seed000_fixed_sdk_inside_the_wait_is_clean() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            private readonly AmazonSQSClient _sqs;

            public Poller()
            {
                var config = new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(540), MaxErrorRetry = 0 };
                _sqs = new AmazonSQSClient(config);
            }

            public Task PollAsync(string queue) =>
                Task.Run(() => _sqs.ReceiveMessageAsync(queue).GetAwaiter().GetResult()).WaitAsync(TimeSpan.FromSeconds(600));
        }
        """);

    [Fact]
    public Task HttpClient_timeout_longer_than_the_token_it_receives() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<string> FetchAsync(string url)
            {
                var client = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                return await {|TB0001:client.GetStringAsync(url, cts.Token)|};
            }
        }
        """);

    [Fact]
    public Task Equal_values_count_and_mixed_units_compare_by_value() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(120);
            private readonly HttpClient _client = new HttpClient();

            public Fetcher() => _client.Timeout = ClientTimeout;

            public async Task<string> FetchAsync(string url)
            {
                using var cts = new CancellationTokenSource(120_000);
                return await {|TB0001:_client.GetStringAsync(url, cts.Token)|};
            }
        }
        """);

    [Fact]
    public Task Linked_source_with_a_longer_timeout_than_its_parent() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;

        class Worker
        {
            public void Run()
            {
                using var run = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                using var step = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                step.CancelAfter({|TB0001:TimeSpan.FromSeconds(65)|});
            }
        }
        """);

    [Fact]
    public Task Dotnet9_multi_argument_factories_and_arithmetic_are_folded() => Verifier.AnalyzerAsync(TestReferences.Net90, """
        using System;
        using System.Threading;

        class Worker
        {
            public void Run()
            {
                const int seconds = 30;
                var outer = TimeSpan.FromMinutes(1, 0);
                using var run = new CancellationTokenSource(outer);
                using var step = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                step.CancelAfter({|TB0001:TimeSpan.FromSeconds(seconds) * 2|});
            }
        }
        """, editorConfig: null);

    [Fact]
    public Task Polly_inner_timeout_added_after_a_shorter_outer_one() => Verifier.AnalyzerAsync("""
        using System;
        using Polly;

        class Pipelines
        {
            public ResiliencePipeline Create() => new ResiliencePipelineBuilder()
                .AddTimeout(TimeSpan.FromSeconds(10))
                .AddTimeout({|TB0001:TimeSpan.FromSeconds(20)|})
                .Build();
        }
        """);

    [Fact]
    public Task Polly_builder_kept_in_a_local_with_timeout_options() => Verifier.AnalyzerAsync("""
        using System;
        using Polly;
        using Polly.Timeout;

        class Pipelines
        {
            public ResiliencePipeline Create()
            {
                var builder = new ResiliencePipelineBuilder();
                builder.AddTimeout(new TimeoutStrategyOptions { Timeout = TimeSpan.FromSeconds(10) });
                builder.AddTimeout(new TimeoutStrategyOptions { Timeout = {|TB0001:TimeSpan.FromSeconds(10)|} });
                return builder.Build();
            }
        }
        """);

    [Fact]
    public Task Polly_typed_builder_of_a_resilience_handler() => Verifier.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Polly;

        class Startup
        {
            public void Configure(IServiceCollection services) =>
                services.AddHttpClient("api").AddResilienceHandler("api-pipeline", pipeline => pipeline
                    .AddTimeout(TimeSpan.FromSeconds(10))
                    .AddTimeout({|TB0001:TimeSpan.FromSeconds(15)|}));
        }
        """);

    [Fact]
    public Task Standard_handler_attempt_timeout_longer_than_total() => Verifier.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;

        class Startup
        {
            public void Configure(IServiceCollection services) =>
                services.AddHttpClient("api", c => { }).{|TB0001:AddStandardResilienceHandler(o =>
                {
                    o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(30);
                    o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(45);
                })|};
        }
        """);

    [Fact]
    public Task Standard_handler_attempt_timeout_longer_than_total_set_through_Configure() => Verifier.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;

        class Startup
        {
            public void Configure(IServiceCollection services) =>
                services.AddHttpClient("api").{|TB0001:AddStandardResilienceHandler()|}.Configure(o =>
                {
                    o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(30);
                    o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(45);
                });
        }
        """);

    [Fact]
    public Task Unknown_values_defaults_and_unrelated_tokens_are_not_reported() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            private readonly HttpClient _defaultClient = new HttpClient();

            public async Task<string> FetchAsync(string url, TimeSpan configured, CancellationToken unrelated)
            {
                // Default 100 s against a 10 s token: the user did not write 100 s.
                using var shortSource = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _defaultClient.GetStringAsync(url, shortSource.Token);

                // Unknown value from configuration.
                var client = new HttpClient { Timeout = configured };
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await client.GetStringAsync(url, cts.Token);

                // A token whose source is not known here.
                var slow = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
                return await slow.GetStringAsync(url, unrelated);
            }
        }
        """);

    [Fact]
    public Task A_local_assigned_twice_is_unknown() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;

        class Worker
        {
            public void Run(bool slow)
            {
                var timeout = TimeSpan.FromSeconds(10);
                if (slow) timeout = TimeSpan.FromSeconds(1);
                using var run = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var step = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                step.CancelAfter(timeout);
            }
        }
        """);
}

public class HttpClientFactoryTests
{
    // AddStandardResilienceHandler returns an IHttpStandardResiliencePipelineBuilder, so "after the handler" is written on the
    // client builder kept in a local, or on a later AddHttpClient of the same name.
    [Fact]
    public Task HttpClient_timeout_configured_after_the_standard_handler_wraps_its_total() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;

        class Startup
        {
            public void Configure(IServiceCollection services)
            {
                var api = services.AddHttpClient("api", c => { });
                api.AddStandardResilienceHandler(o => o.TotalRequestTimeout.Timeout = {|TB0001:TimeSpan.FromSeconds(30)|});
                api.ConfigureHttpClient(c => c.Timeout = TimeSpan.FromSeconds(10));
            }
        }
        """);

    [Fact]
    public Task HttpClient_timeout_on_a_later_AddHttpClient_of_the_same_name_wraps_the_total_set_through_Configure() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;

        class Startup
        {
            public void Configure(IServiceCollection services)
            {
                services.AddHttpClient("api")
                    .AddStandardResilienceHandler()
                    .Configure(o => o.TotalRequestTimeout.Timeout = {|TB0001:TimeSpan.FromSeconds(30)|});
                services.AddHttpClient("api").ConfigureHttpClient((sp, c) => c.Timeout = TimeSpan.FromSeconds(20));
                services.AddHttpClient("other", c => c.Timeout = TimeSpan.FromSeconds(5));
            }
        }
        """);

    [Fact]
    public Task HttpClient_timeout_in_a_later_AddHttpClient_delegate_against_a_pipeline_builder_kept_in_a_local() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;

        class Startup
        {
            public void Configure(IServiceCollection services)
            {
                var pipeline = services.AddHttpClient("api").AddStandardResilienceHandler();
                pipeline.Configure((o, sp) => o.TotalRequestTimeout.Timeout = {|TB0003:TimeSpan.FromSeconds(29)|});
                services.AddHttpClient("api", c => c.Timeout = TimeSpan.FromSeconds(30));
            }
        }
        """);

    [Fact]
    public Task HttpClient_timeouts_of_another_client_or_set_before_the_handler_are_not_compared() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;

        class Startup
        {
            public void Configure(IServiceCollection services)
            {
                var api = services.AddHttpClient("api");
                api.ConfigureHttpClient(c => c.Timeout = TimeSpan.FromSeconds(10));
                api.AddStandardResilienceHandler().Configure(o => o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(30));
                var other = services.AddHttpClient("other");
                other.ConfigureHttpClient(c => c.Timeout = TimeSpan.FromSeconds(10));
            }

            public void Elsewhere(IServiceCollection services) =>
                services.AddHttpClient("api", c => c.Timeout = TimeSpan.FromSeconds(10));
        }
        """);

    [Fact]
    public Task HttpClient_timeout_configured_before_the_standard_handler_is_reset_and_not_compared() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;

        class Startup
        {
            public void Configure(IServiceCollection services) =>
                services.AddHttpClient("api", c => c.Timeout = TimeSpan.FromSeconds(10))
                    .AddStandardResilienceHandler(o => o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(30));
        }
        """);
}

public class TypedClientTests
{
    [Fact]
    public Task Typed_client_constructor_timeout_against_a_budget_token_in_a_method() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;
        using TimeoutBudget;

        class CatalogClient
        {
            private readonly HttpClient _http;

            public CatalogClient(HttpClient http)
            {
                http.Timeout = TimeSpan.FromSeconds(30);
                _http = http;
            }

            public async Task<string> GetAsync(string url)
            {
                using var budget = Budget.Start("catalog", TimeSpan.FromSeconds(20));
                return await {|TB0001:_http.GetStringAsync(url, budget.Token)|};
            }
        }
        """);
}
