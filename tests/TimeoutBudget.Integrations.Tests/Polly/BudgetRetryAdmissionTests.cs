using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.Retry;
using TimeoutBudget.Polly;

namespace TimeoutBudget.Integrations.Tests.Polly;

public sealed class BudgetRetryAdmissionTests
{
    private readonly FakeTimeProvider _clock = new();

    private BudgetOptions Options => new() { TimeProvider = _clock, Margin = BudgetMargin.None };

    [Fact]
    public async Task A_retry_that_cannot_fit_stops_at_once_with_the_last_real_outcome_instead_of_sleeping()
    {
        BudgetRetryStop? stopped = null;
        var attempts = 0;
        var pipeline = new ResiliencePipelineBuilder<int> { TimeProvider = _clock }
            .AddBudgetRetry(new RetryStrategyOptions<int>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is HttpRequestException),
                MaxRetryAttempts = 5,
                Delay = TimeSpan.FromSeconds(6),
                BackoffType = DelayBackoffType.Constant,
            }, new BudgetRetryAdmissionOptions { OnStopped = stop => stopped = stop })
            .AddBudgetTimeout("attempt", TimeSpan.FromSeconds(3))
            .Build();
        var logs = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        using var request = Budget.Start("request", TimeSpan.FromSeconds(10), Options with { LoggerFactory = loggerFactory });
        var context = ResilienceContextPool.Shared.Get();

        var outcome = await pipeline.ExecuteOutcomeAsync((ctx, _) =>
        {
            attempts++;
            _clock.Advance(TimeSpan.FromSeconds(2));
            return ValueTask.FromResult(Outcome.FromException<int>(new HttpRequestException($"503 on attempt {attempts}")));
        }, context, 0).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        // 10 s: attempt 1 took 2 s; the 8 s left cannot hold a 6 s delay + a 3 s attempt, so no sleep.
        Assert.Equal(1, attempts);
        Assert.Equal("503 on attempt 1", outcome.Exception!.Message);
        Assert.True(context.Properties.TryGetValue(BudgetResilienceKeys.RetryStopped, out var tag));
        Assert.Same(stopped, tag);
        Assert.Equal("request", tag!.Path);
        Assert.Equal(TimeSpan.FromSeconds(6), tag.Delay);
        Assert.Equal(TimeSpan.FromSeconds(3), tag.AttemptTimeout);
        Assert.Equal(TimeSpan.FromSeconds(8), tag.Available);
        Assert.Contains("delay 6 s + attempt 3 s does not fit in the 8 s request can still give", tag.ToString());
        var log = Assert.Single(logs.GetSnapshot(), r => r.Category == "TimeoutBudget.Polly");
        Assert.Equal(LogLevel.Warning, log.Level);
        Assert.Equal("Retry stopped for lack of budget in request after attempt 1: delay 6 s + attempt 3 s does not fit in 8 s", log.Message);
        ResilienceContextPool.Shared.Return(context);
    }

    [Fact]
    public async Task Retries_that_fit_go_ahead_and_sleep_the_delay_that_was_checked()
    {
        var attempts = 0;
        var slept = new List<TimeSpan>();
        var pipeline = new ResiliencePipelineBuilder<int> { TimeProvider = _clock }
            .AddBudgetRetry(new RetryStrategyOptions<int>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null),
                MaxRetryAttempts = 3,
                Delay = TimeSpan.FromSeconds(1),
                BackoffType = DelayBackoffType.Exponential,
                OnRetry = args =>
                {
                    slept.Add(args.RetryDelay);
                    return default;
                },
            })
            .AddBudgetTimeout("attempt", TimeSpan.FromSeconds(2))
            .Build();
        using var request = Budget.Start("request", TimeSpan.FromSeconds(60), Options);

        var execution = pipeline.ExecuteAsync(_ =>
        {
            attempts++;
            return attempts < 3 ? throw new IOException("flaky") : ValueTask.FromResult(attempts);
        }).AsTask();
        await AdvanceUntilDone(execution);

        Assert.Equal(3, await execution.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)], slept);
    }

    [Fact]
    public async Task Without_an_ambient_budget_the_retry_behaves_as_polly_s()
    {
        var attempts = 0;
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }
            .AddBudgetRetry(new RetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.Zero })
            .Build();

        await Assert.ThrowsAsync<IOException>(() => pipeline.ExecuteAsync(_ =>
        {
            attempts++;
            throw new IOException("down");
        }).AsTask());
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task A_total_budget_timeout_around_the_retry_is_what_admission_checks_against()
    {
        var stops = new List<BudgetRetryStop>();
        var attempts = 0;
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }
            .AddBudgetTimeout(new BudgetTimeoutStrategyOptions { Layer = "total", Timeout = TimeSpan.FromSeconds(5), BudgetOptions = Options })
            .AddBudgetRetry(new RetryStrategyOptions { MaxRetryAttempts = 10, Delay = TimeSpan.FromMilliseconds(500) }, new BudgetRetryAdmissionOptions { OnStopped = stops.Add })
            .AddBudgetTimeout("attempt", TimeSpan.FromSeconds(1))
            .Build();

        var execution = pipeline.ExecuteAsync(_ =>
        {
            attempts++;
            _clock.Advance(TimeSpan.FromSeconds(1));
            throw new IOException($"attempt {attempts}");
        }).AsTask();
        await AdvanceUntilDone(execution);

        var exception = await Assert.ThrowsAsync<IOException>(() => execution.WaitAsync(TimeSpan.FromSeconds(30)));
        // 5 s: 1 + 0.5 + 1 + 0.5 + 1 = 4 s; the fourth attempt would need 0.5 + 1 s of the 1 s left.
        Assert.Equal("attempt 3", exception.Message);
        Assert.Equal("total", Assert.Single(stops).Path);
    }

    /// <summary>Moves the fake clock in small steps, letting continuations run between them, until the work ends.</summary>
    private async Task AdvanceUntilDone(Task execution)
    {
        for (var i = 0; i < 2_000 && !execution.IsCompleted; i++)
        {
            await Task.Yield();
            _clock.Advance(TimeSpan.FromMilliseconds(20));
        }
    }

    [Fact]
    public void The_backoff_delay_matches_polly_s_arithmetic_without_jitter()
    {
        var retry = new RetryStrategyOptions<int> { Delay = TimeSpan.FromSeconds(1), BackoffType = DelayBackoffType.Exponential, MaxDelay = TimeSpan.FromSeconds(5) };
        Assert.Equal(TimeSpan.FromSeconds(1), BudgetRetryAdmission.BackoffDelay(retry, 0));
        Assert.Equal(TimeSpan.FromSeconds(4), BudgetRetryAdmission.BackoffDelay(retry, 2));
        Assert.Equal(TimeSpan.FromSeconds(5), BudgetRetryAdmission.BackoffDelay(retry, 3));
        retry.BackoffType = DelayBackoffType.Linear;
        Assert.Equal(TimeSpan.FromSeconds(3), BudgetRetryAdmission.BackoffDelay(retry, 2));
    }
}
