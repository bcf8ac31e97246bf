using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.Retry;
using TimeoutBudget.Polly;

namespace TimeoutBudget.Integrations.Tests.Polly;

public sealed class BudgetTimeoutStrategyTests
{
    private readonly FakeTimeProvider _clock = new();

    [Fact]
    public async Task Each_execution_runs_in_a_child_of_the_ambient_budget_clamped_to_what_it_can_give()
    {
        var options = new BudgetOptions { TimeProvider = _clock };
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("attempt", TimeSpan.FromSeconds(30)).Build();
        using var request = Budget.Start("request", TimeSpan.FromSeconds(10), options);

        var seen = await pipeline.ExecuteAsync(_ => ValueTask.FromResult(Budget.Current!));

        Assert.Equal("request/attempt", seen.Path);
        Assert.Equal(TimeSpan.FromSeconds(30), seen.Requested);
        Assert.Equal(request.Available, seen.Allotted);
        Assert.Same(request, Budget.Current);
    }

    [Fact]
    public async Task The_attempt_timeout_is_left_on_the_context_as_a_TimeSpan_boxed_once_per_pipeline_not_per_execution()
    {
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("attempt", TimeSpan.FromSeconds(3)).Build();
        var untyped = new ResiliencePropertyKey<object>(BudgetResilienceKeys.AttemptTimeout.Key);
        var first = ResilienceContextPool.Shared.Get();
        var second = ResilienceContextPool.Shared.Get();
        try
        {
            await pipeline.ExecuteAsync(static _ => ValueTask.FromResult(1), first);
            await pipeline.ExecuteAsync(static _ => ValueTask.FromResult(2), second);

            Assert.True(first.Properties.TryGetValue(BudgetResilienceKeys.AttemptTimeout, out var timeout));
            Assert.Equal(TimeSpan.FromSeconds(3), timeout);
            Assert.True(first.Properties.TryGetValue(untyped, out var boxedFirst));
            Assert.True(second.Properties.TryGetValue(untyped, out var boxedSecond));
            Assert.Same(boxedFirst, boxedSecond);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(first);
            ResilienceContextPool.Shared.Return(second);
        }
    }

    [Fact]
    public async Task Without_an_ambient_budget_the_execution_gets_a_root_on_the_pipeline_clock()
    {
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("job", TimeSpan.FromSeconds(5)).Build();

        var seen = await pipeline.ExecuteAsync(_ => ValueTask.FromResult(Budget.Current!));

        Assert.Equal("job", seen.Path);
        Assert.Equal(TimeSpan.FromSeconds(5), seen.Allotted);
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromSeconds(5), seen.Deadline);
        Assert.Null(Budget.Current);
    }

    [Fact]
    public async Task Expiry_throws_the_attributed_exception_even_when_the_work_ignores_the_token()
    {
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("sdk-call", TimeSpan.FromSeconds(240)).Build();
        var never = new TaskCompletionSource<int>();

        var execution = pipeline.ExecuteAsync(_ => new ValueTask<int>(never.Task)).AsTask();
        _clock.Advance(TimeSpan.FromSeconds(240));

        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => execution.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("sdk-call", exception.Layer);
        Assert.Equal(TimeSpan.FromSeconds(240), exception.Allotted);
    }

    [Fact]
    public async Task The_work_can_observe_the_budget_token_from_the_context_and_cancellation_is_reported_as_expiry()
    {
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("fetch", TimeSpan.FromSeconds(2)).Build();
        var started = new TaskCompletionSource();

        var context = ResilienceContextPool.Shared.Get();

        var execution = pipeline.ExecuteAsync(async (ctx, _) =>
        {
            ctx.Properties.TryGetValue(BudgetResilienceKeys.Budget, out var budget);
            Assert.Same(Budget.Current, budget);
            started.SetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, budget!.Token);
        }, context, 0).AsTask();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        _clock.Advance(TimeSpan.FromSeconds(2));

        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => execution.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("fetch", exception.Path);
    }

    [Fact]
    public async Task The_callbacks_token_cancels_at_the_budget_deadline_and_not_before()
    {
        var options = new BudgetOptions { TimeProvider = _clock };
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("attempt", TimeSpan.FromSeconds(30)).Build();
        using var request = Budget.Start("request", TimeSpan.FromSeconds(10), options);
        var started = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);

        var execution = pipeline.ExecuteAsync(async ct =>
        {
            started.SetResult(ct);
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        }).AsTask();
        var token = await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var attempt = request.Available;

        _clock.Advance(attempt - TimeSpan.FromTicks(1));
        Assert.False(token.IsCancellationRequested, "the callback's token must not cancel before the budget's deadline");
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(token.IsCancellationRequested, "the callback's token must cancel at the budget's deadline");

        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => execution.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("request/attempt", exception.Path);
    }

    [Fact]
    public async Task The_callbacks_token_cancels_with_the_pipelines_token_as_the_callers_cancellation()
    {
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("attempt", TimeSpan.FromSeconds(3)).Build();
        using var caller = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var execution = pipeline.ExecuteAsync(async ct =>
        {
            started.SetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        }, caller.Token).AsTask();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        caller.Cancel();

        var exception = await Assert.ThrowsAsync<BudgetCancelledException>(() => execution.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("attempt", exception.Layer);
    }

    [Fact]
    public async Task An_outer_budget_that_ran_out_first_is_the_one_named()
    {
        var options = new BudgetOptions { TimeProvider = _clock };
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("attempt", TimeSpan.FromSeconds(30)).Build();
        using var wait = Budget.Start("wait", TimeSpan.FromSeconds(1), options);
        _clock.Advance(TimeSpan.FromSeconds(2));

        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => pipeline.ExecuteAsync(_ => ValueTask.FromResult(1)).AsTask());
        Assert.Equal("wait", exception.Path);
    }

    [Fact]
    public async Task The_work_s_own_failure_is_reported_as_itself_not_as_a_timeout()
    {
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("attempt", TimeSpan.FromSeconds(3)).Build();

        // Seed 004: a "timeout" that was really a swallowed non-timeout error.
        var exception = await Assert.ThrowsAsync<InvalidDataException>(() =>
            pipeline.ExecuteAsync<int>(_ => throw new InvalidDataException("bad record")).AsTask());
        Assert.Equal("bad record", exception.Message);
    }

    [Fact]
    public async Task A_caller_cancellation_is_reported_as_cancellation_not_as_a_timeout()
    {
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _clock }.AddBudgetTimeout("attempt", TimeSpan.FromSeconds(3)).Build();
        using var caller = new CancellationTokenSource();
        var never = new TaskCompletionSource<int>();

        var execution = pipeline.ExecuteAsync(_ => new ValueTask<int>(never.Task), caller.Token).AsTask();
        caller.Cancel();

        var exception = await Assert.ThrowsAsync<BudgetCancelledException>(() => execution.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("attempt", exception.Layer);
    }

    [Fact]
    public void Invalid_options_are_rejected_when_the_pipeline_is_built()
    {
        var builder = new ResiliencePipelineBuilder();
        var exception = Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() =>
            builder.AddBudgetTimeout(new BudgetTimeoutStrategyOptions { Layer = null!, Timeout = TimeSpan.FromDays(400) }));
        Assert.Contains("Layer", exception.Message);
        Assert.Contains("Timeout", exception.Message);
    }
}
