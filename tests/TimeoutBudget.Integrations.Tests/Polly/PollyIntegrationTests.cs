using System.Diagnostics;
using Polly;
using Polly.Fallback;
using Polly.Retry;
using TimeoutBudget.Integrations.Tests.Infrastructure;
using TimeoutBudget.Polly;

namespace TimeoutBudget.Integrations.Tests.Polly;

public sealed class PollyIntegrationTests
{
    [Fact]
    public async Task The_callbacks_own_token_cancels_at_the_budget_deadline_so_an_http_call_to_a_silent_server_is_not_abandoned()
    {
        // The way everyone writes Polly code: the callback's token, not Budget.Current.Token.
        await using var server = new SlowHttpServer(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = Timeout.InfiniteTimeSpan };
        var pipeline = new ResiliencePipelineBuilder().AddBudgetTimeout("attempt", TimeSpan.FromMilliseconds(500)).Build();
        var clock = Stopwatch.StartNew();

        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => pipeline.ExecuteAsync(async ct =>
        {
            using var response = await http.GetAsync("never", ct);
        }).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("attempt", exception.Path);
        var served = Assert.Single(server.Requests);
        // The HTTP call itself was cancelled at the deadline: the server saw the client hang up, long before its 60 s.
        await served.EndedTask.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(served.Abandoned);
        Assert.True(served.Ended - served.Arrived < TimeSpan.FromSeconds(10), $"the request ran {served.Ended - served.Arrived}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_slow_endpoint_fails_with_the_attempt_layer_named_and_retries_stop_when_the_budget_cannot_hold_another()
    {
        await using var server = new SlowHttpServer(TimeSpan.FromSeconds(20));
        using var http = new HttpClient { BaseAddress = server.Url };
        var stops = new List<BudgetRetryStop>();
        var pipeline = new ResiliencePipelineBuilder<string>()
            .AddBudgetRetry(new RetryStrategyOptions<string>
            {
                ShouldHandle = new PredicateBuilder<string>().Handle<TimeoutException>().Handle<HttpRequestException>(),
                MaxRetryAttempts = 5,
                Delay = TimeSpan.FromMilliseconds(100),
            }, new BudgetRetryAdmissionOptions { OnStopped = stops.Add })
            .AddBudgetTimeout("attempt", TimeSpan.FromMilliseconds(400))
            .Build();
        var clock = Stopwatch.StartNew();

        using var request = Budget.Start("request", TimeSpan.FromMilliseconds(1200));
        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => pipeline.ExecuteAsync(async _ =>
        {
            using var response = await http.GetAsync("slow", Budget.Current!.Token);
            return await response.Content.ReadAsStringAsync();
        }).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("request/attempt", exception.Path);
        // The 20 s server was given up on at the budget, not waited for (bounded loosely: the machine may be busy).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        var stop = Assert.Single(stops);
        Assert.Equal("request", stop.Path);
        Assert.InRange(server.Requests.Count, 1, 2);
        foreach (var served in server.Requests)
        {
            // No attempt outlived its budget: the server saw every request abandoned, none answered.
            await served.EndedTask.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(served.Abandoned);
        }
    }

    [Fact]
    public async Task Seed_002_on_an_api_timeout_the_workflow_uses_the_last_good_result_inside_its_reserve()
    {
        // API 20 s < workflow 40 s (scaled to ms), the workflow keeping a reserve for "use the last good result".
        await using var server = new SlowHttpServer(TimeSpan.FromSeconds(20));
        using var http = new HttpClient { BaseAddress = server.Url };
        var lastGood = "report from the previous run";
        var pipeline = new ResiliencePipelineBuilder<string>()
            .AddFallback(new FallbackStrategyOptions<string>
            {
                ShouldHandle = new PredicateBuilder<string>().Handle<BudgetExhaustedException>(),
                FallbackAction = _ => Outcome.FromResultAsValueTask(lastGood),
            })
            .AddBudgetTimeout("api", TimeSpan.FromMilliseconds(2000))
            .Build();

        using var workflow = Budget.Start("workflow", TimeSpan.FromMilliseconds(4000), new BudgetOptions { Reserve = TimeSpan.FromMilliseconds(1500) });
        var result = await pipeline.ExecuteAsync(async _ =>
        {
            using var response = await http.GetAsync("report", Budget.Current!.Token);
            return await response.Content.ReadAsStringAsync();
        }).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(lastGood, result);
        // The API layer was clamped inside the workflow minus its reserve, so the fallback ran with time to spare.
        Assert.False(workflow.IsExpired);
        var served = Assert.Single(server.Requests);
        await served.EndedTask.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(served.Abandoned);
    }
}
