using Verifier = TimeoutBudget.Analyzers.Tests.Verify<TimeoutBudget.Analyzers.NestedTimeoutAnalyzer>;

namespace TimeoutBudget.Analyzers.Tests;

public class RetryScheduleDoesNotFitTests
{
    [Fact]
    public Task Polly_retry_schedule_exceeding_the_outer_timeout() => Verifier.AnalyzerAsync("""
        using System;
        using Polly;
        using Polly.Retry;

        class Pipelines
        {
            public ResiliencePipeline Create() => new ResiliencePipelineBuilder()
                .AddTimeout(TimeSpan.FromSeconds(30))
                .{|TB0002:AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 3, Delay = TimeSpan.FromSeconds(1), BackoffType = DelayBackoffType.Exponential })|}
                .AddTimeout(TimeSpan.FromSeconds(10))
                .Build();
        }
        """);

    [Fact]
    public Task Not_even_one_retry_can_start() => Verifier.AnalyzerAsync("""
        using System;
        using Polly;
        using Polly.Retry;

        class Pipelines
        {
            public ResiliencePipeline Create() => new ResiliencePipelineBuilder()
                .AddTimeout(TimeSpan.FromSeconds(10))
                .{|TB0002:AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 1, Delay = TimeSpan.FromSeconds(3) })|}
                .AddTimeout(TimeSpan.FromSeconds(8))
                .Build();
        }
        """);

    [Fact]
    public Task Http_retry_options_in_a_resilience_handler_exceeding_the_outer_timeout() => Verifier.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;
        using Polly;

        class Startup
        {
            public void Configure(IServiceCollection services) =>
                services.AddHttpClient("api").AddResilienceHandler("api-pipeline", pipeline => pipeline
                    .AddTimeout(TimeSpan.FromSeconds(30))
                    .{|TB0002:AddRetry(new HttpRetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.FromSeconds(1) })|}
                    .AddTimeout(TimeSpan.FromSeconds(10)));
        }
        """);

    [Fact]
    public Task Standard_handler_retries_exceeding_the_total_request_timeout() => Verifier.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;

        class Startup
        {
            public void Configure(IServiceCollection services) =>
                services.AddHttpClient("api", c => { }).{|TB0002:AddStandardResilienceHandler(o =>
                {
                    o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(30);
                    o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(10);
                    o.Retry.MaxRetryAttempts = 5;
                })|};
        }
        """);

    [Fact]
    public Task Aws_explicit_retries_times_the_per_attempt_timeout_exceed_the_wait() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            public Task PollAsync(string queue)
            {
                var config = new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(540), MaxErrorRetry = {|TB0002:2|} };
                var sqs = new AmazonSQSClient(config);
                return Task.Run(() => sqs.ReceiveMessageAsync(queue).GetAwaiter().GetResult()).WaitAsync(TimeSpan.FromSeconds(600));
            }
        }
        """);

    [Fact]
    public Task Retry_until_deadline_defaults_and_fitting_schedules_are_not_reported() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading.Tasks;
        using Amazon.SQS;
        using Polly;
        using Polly.Retry;

        class Pipelines
        {
            public ResiliencePipeline UntilDeadline() => new ResiliencePipelineBuilder()
                .AddTimeout(TimeSpan.FromSeconds(30))
                .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = int.MaxValue })
                .AddTimeout(TimeSpan.FromSeconds(10))
                .Build();

            public ResiliencePipeline LibraryDefaults() => new ResiliencePipelineBuilder()
                .AddTimeout(TimeSpan.FromSeconds(30))
                .AddRetry(new RetryStrategyOptions())
                .AddTimeout(TimeSpan.FromSeconds(10))
                .Build();

            public ResiliencePipeline Fits() => new ResiliencePipelineBuilder()
                .AddTimeout(TimeSpan.FromSeconds(60))
                .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.FromSeconds(1) })
                .AddTimeout(TimeSpan.FromSeconds(10))
                .Build();

            public Task SdkDefaultRetries(string queue)
            {
                // MaxErrorRetry's default of 2 is the SDK's, not the user's schedule.
                var sqs = new AmazonSQSClient(new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(540) });
                return Task.Run(() => sqs.ReceiveMessageAsync(queue).GetAwaiter().GetResult()).WaitAsync(TimeSpan.FromSeconds(600));
            }
        }
        """);
}

public class MarginTooSmallTests
{
    [Fact]
    public Task Inner_just_below_outer_reports_info() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;

        class Worker
        {
            public void Run()
            {
                using var run = new CancellationTokenSource(TimeSpan.FromSeconds(100));
                using var step = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                step.CancelAfter({|TB0003:TimeSpan.FromSeconds(98)|});
            }
        }
        """);

    [Fact]
    public Task Absolute_minimum_margin_from_editorconfig() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;

        class Worker
        {
            public void Run()
            {
                using var run = new CancellationTokenSource(TimeSpan.FromSeconds(100));
                using var step = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                step.CancelAfter({|TB0003:TimeSpan.FromSeconds(90)|});
            }
        }
        """, "timeout_budget.minimum_margin = 15s");

    [Fact]
    public Task Enough_margin_is_clean() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;

        class Worker
        {
            public void Run()
            {
                using var run = new CancellationTokenSource(TimeSpan.FromSeconds(100));
                using var step = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                step.CancelAfter(TimeSpan.FromSeconds(90));
            }
        }
        """);

    [Fact]
    public Task Seed002_layers_with_an_equal_pair_and_a_comfortable_pair() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;

        class Seed002
        {
            public void Run()
            {
                using var proxy = new CancellationTokenSource(TimeSpan.FromSeconds(120));
                using var worker = CancellationTokenSource.CreateLinkedTokenSource(proxy.Token);
                worker.CancelAfter({|TB0001:TimeSpan.FromSeconds(120)|});
                using var workflow = CancellationTokenSource.CreateLinkedTokenSource(worker.Token);
                workflow.CancelAfter(TimeSpan.FromSeconds(40));
                using var api = CancellationTokenSource.CreateLinkedTokenSource(workflow.Token);
                api.CancelAfter(TimeSpan.FromSeconds(20));
            }
        }
        """);
}

/// <summary>
/// The standard handler's documented defaults (30 s total, 10 s attempt, 3 retries, 2 s exponential) count once you opted into
/// the handler and wrote the other side; a handler left at its defaults, and retry-until-deadline, are not reported.
/// </summary>
public class StandardHandlerDefaultsTests
{
    [Fact]
    public Task Written_retries_under_default_timeouts_and_a_method_group_in_another_file() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>("""
        using System;
        using Microsoft.Extensions.DependencyInjection;

        static class Registration
        {
            public static void Register(IServiceCollection services)
            {
                services.AddHttpClient("crash-reports").{|TB0002:AddStandardResilienceHandler(Resilience.Configure)|};
                services.AddHttpClient("images").{|TB0002:AddStandardResilienceHandler(o => o.Retry.MaxRetryAttempts = 5)|};
                services.AddHttpClient("defaults").AddStandardResilienceHandler();
                services.AddHttpClient("until-deadline").AddStandardResilienceHandler(o =>
                {
                    o.TotalRequestTimeout.Timeout = TimeSpan.FromMinutes(10);
                    o.AttemptTimeout.Timeout = TimeSpan.FromMinutes(2);
                    o.Retry.MaxRetryAttempts = 20;
                });
                services.AddHttpClient("count-not-written").AddStandardResilienceHandler(o =>
                {
                    o.TotalRequestTimeout.Timeout = TimeSpan.FromMinutes(4);
                    o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(60);
                    o.Retry.Delay = TimeSpan.FromSeconds(1);
                });
            }
        }
        """, """
        using System;
        using Microsoft.Extensions.Http.Resilience;

        static class Resilience
        {
            public static void Configure(HttpStandardResilienceOptions options)
            {
                options.Retry.MaxRetryAttempts = 3;
                options.Retry.Delay = TimeSpan.FromSeconds(2);
            }
        }
        """);

    [Fact]
    public Task Attempt_written_equal_to_the_default_total() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>("""
        using System;
        using Microsoft.Extensions.DependencyInjection;

        static class Registration
        {
            public static void Register(IServiceCollection services) =>
                services.AddHttpClient("slow").{|TB0001:AddStandardResilienceHandler(o => o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(30))|};
        }
        """);

    [Fact]
    public Task A_total_written_but_computed_is_unknown_not_the_handlers_default() => Verifier.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;

        static class Registration
        {
            // RC-056's shape: the total is derived so that every attempt fits; the 30 s default must not stand in for it.
            public static void Add(IServiceCollection services, Func<TimeSpan> totalFor) =>
                services.AddHttpClient("riot").AddStandardResilienceHandler().Configure(o =>
                {
                    o.Retry.MaxRetryAttempts = 3;
                    o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(10);
                    o.TotalRequestTimeout.Timeout = totalFor();
                });
        }
        """);
}
