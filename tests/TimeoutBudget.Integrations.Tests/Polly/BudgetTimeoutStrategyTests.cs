using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.Retry;
using TimeoutBudget.Polly;

namespace TimeoutBudget.Integrations.Tests.Polly;

/// <summary>The strategy in the shape <c>AddBudgetTimeout</c> adds with this Polly version: one strategy that owns the callback's token.</summary>
public sealed class BudgetTimeoutStrategyTests : BudgetTimeoutStrategyShapeTests
{
    protected override bool OwnsToken => true;

    [Fact]
    public void With_the_Polly_version_shipped_the_strategy_can_hand_the_callback_its_own_token()
    {
        // Otherwise AddBudgetTimeout silently falls back to three strategies and a Polly timer per execution.
        Assert.True(BudgetTimeoutStrategy.ContextToken.IsReplaceable);
    }

    [Fact]
    public async Task The_callback_receives_the_budgets_own_token_and_the_pipeline_gets_its_token_back_afterwards()
    {
        using var caller = new CancellationTokenSource();
        var context = ResilienceContextPool.Shared.Get(caller.Token);
        try
        {
            var pipeline = Pipeline("attempt", TimeSpan.FromSeconds(3));
            var (seen, budget) = await pipeline.ExecuteAsync(static (ctx, _) => ValueTask.FromResult((ctx.CancellationToken, Budget.Current!)), context, 0);

            Assert.Equal(budget.Token, seen);
            Assert.NotEqual(caller.Token, seen);
            Assert.Equal(caller.Token, context.CancellationToken);
            Assert.Throws<ObjectDisposedException>(() => budget.DetachedChild("after", TimeSpan.FromSeconds(1)));
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    [Fact]
    public async Task An_enclosing_budget_cancelled_by_its_caller_cancels_the_callbacks_token_without_the_pipelines_token()
    {
        var options = new BudgetOptions { TimeProvider = _clock };
        using var caller = new CancellationTokenSource();
        using var request = Budget.Start("request", TimeSpan.FromSeconds(10), options, caller.Token);
        var pipeline = Pipeline("attempt", TimeSpan.FromSeconds(3));
        var (execution, token) = await StartWaitingOnItsTokenAsync(pipeline);
        caller.Cancel();

        Assert.True(token.IsCancellationRequested);
        var exception = await Assert.ThrowsAsync<BudgetCancelledException>(() => execution.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("request", exception.Layer);
    }
}

/// <summary>The three-strategy shape (Polly's timeout and a guard inside), used when Polly has no token setter to reach.</summary>
public sealed class BudgetTimeoutStrategyFallbackTests : BudgetTimeoutStrategyShapeTests
{
    protected override bool OwnsToken => false;
}

/// <summary>What both shapes of the budget timeout strategy must do.</summary>
public abstract class BudgetTimeoutStrategyShapeTests
{
    protected readonly FakeTimeProvider _clock = new();

    protected abstract bool OwnsToken { get; }

    /// <summary>Starts a callback that waits on its token forever; returns once it runs, with the token it was given.</summary>
    protected static async Task<(Task Execution, CancellationToken Token)> StartWaitingOnItsTokenAsync(ResiliencePipeline pipeline)
    {
        var started = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        var execution = pipeline.ExecuteAsync(async ct =>
        {
            started.SetResult(ct);
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        }).AsTask();
        return (execution, await started.Task.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    protected ResiliencePipeline Pipeline(string layer, TimeSpan timeout) =>
        BudgetResiliencePipelineBuilderExtensions.AddBudgetTimeout(new ResiliencePipelineBuilder { TimeProvider = _clock },
            new BudgetTimeoutStrategyOptions { Layer = layer, Timeout = timeout }, OwnsToken).Build();

    [Fact]
    public async Task Outside_the_strategy_the_budget_is_never_current_even_while_the_execution_is_pending()
    {
        var options = new BudgetOptions { TimeProvider = _clock };
        using var request = Budget.Start("request", TimeSpan.FromSeconds(10), options);
        var never = new TaskCompletionSource<int>();
        var inside = new TaskCompletionSource<Budget>(TaskCreationOptions.RunContinuationsAsynchronously);

        var execution = Pipeline("attempt", TimeSpan.FromSeconds(3)).ExecuteAsync(_ =>
        {
            inside.SetResult(Budget.Current!);
            return new ValueTask<int>(never.Task);
        }).AsTask();

        Assert.Equal("request/attempt", (await inside.Task.WaitAsync(TimeSpan.FromSeconds(30))).Path);
        Assert.Same(request, Budget.Current);
        never.SetResult(7);
        Assert.Equal(7, await execution.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Same(request, Budget.Current);
    }

    [Fact]
    public async Task Each_execution_runs_in_a_child_of_the_ambient_budget_clamped_to_what_it_can_give()
    {
        var options = new BudgetOptions { TimeProvider = _clock };
        var pipeline = Pipeline("attempt", TimeSpan.FromSeconds(30));
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
        var pipeline = Pipeline("attempt", TimeSpan.FromSeconds(3));
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
        var pipeline = Pipeline("job", TimeSpan.FromSeconds(5));

        var seen = await pipeline.ExecuteAsync(_ => ValueTask.FromResult(Budget.Current!));

        Assert.Equal("job", seen.Path);
        Assert.Equal(TimeSpan.FromSeconds(5), seen.Allotted);
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromSeconds(5), seen.Deadline);
        Assert.Null(Budget.Current);
    }

    [Fact]
    public async Task Expiry_throws_the_attributed_exception_even_when_the_work_ignores_the_token()
    {
        var pipeline = Pipeline("sdk-call", TimeSpan.FromSeconds(240));
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
        var pipeline = Pipeline("fetch", TimeSpan.FromSeconds(2));
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
        var pipeline = Pipeline("attempt", TimeSpan.FromSeconds(30));
        using var request = Budget.Start("request", TimeSpan.FromSeconds(10), options);
        var (execution, token) = await StartWaitingOnItsTokenAsync(pipeline);
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
        var pipeline = Pipeline("attempt", TimeSpan.FromSeconds(3));
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
        var pipeline = Pipeline("attempt", TimeSpan.FromSeconds(30));
        using var wait = Budget.Start("wait", TimeSpan.FromSeconds(1), options);
        _clock.Advance(TimeSpan.FromSeconds(2));

        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => pipeline.ExecuteAsync(_ => ValueTask.FromResult(1)).AsTask());
        Assert.Equal("wait", exception.Path);
    }

    [Fact]
    public async Task The_work_s_own_failure_is_reported_as_itself_not_as_a_timeout()
    {
        var pipeline = Pipeline("attempt", TimeSpan.FromSeconds(3));

        // Seed 004: a "timeout" that was really a swallowed non-timeout error.
        var exception = await Assert.ThrowsAsync<InvalidDataException>(() =>
            pipeline.ExecuteAsync<int>(_ => throw new InvalidDataException("bad record")).AsTask());
        Assert.Equal("bad record", exception.Message);
    }

    [Fact]
    public async Task A_caller_cancellation_is_reported_as_cancellation_not_as_a_timeout()
    {
        var pipeline = Pipeline("attempt", TimeSpan.FromSeconds(3));
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
