using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

public sealed class RunAsyncTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _clock = new();
    private readonly BudgetMonitor _monitor;
    private readonly BudgetOptions _options;

    public RunAsyncTests()
    {
        _monitor = new BudgetMonitor(_clock);
        _options = new BudgetOptions { TimeProvider = _clock, Monitor = _monitor };
    }

    [Fact]
    public async Task Completed_work_returns_its_value()
    {
        using var budget = Budget.Start("api", TimeSpan.FromSeconds(20), _options);
        Assert.Equal(42, await budget.RunAsync(_ => Task.FromResult(42)));
        var result = await budget.TryRunAsync(_ => Task.FromResult("sql"));
        Assert.Equal(BudgetOutcome.Completed, result.Outcome);
        Assert.Equal("sql", result.Value);
        Assert.Null(result.Exception);
    }

    [Fact]
    public async Task Work_that_observes_the_token_expires_naming_the_layer()
    {
        using var workflow = Budget.Start("workflow", TimeSpan.FromSeconds(40), _options);
        using var api = workflow.Child("api", TimeSpan.FromSeconds(20));
        var run = api.RunAsync(ct => Task.Delay(Timeout.Infinite, ct));

        _clock.Advance(TimeSpan.FromSeconds(20));
        var exception = await Assert.ThrowsAsync<BudgetExhaustedException>(() => run.WaitAsync(Bound));
        Assert.Equal("workflow/api", exception.Path);
        Assert.IsAssignableFrom<OperationCanceledException>(exception.InnerException);
    }

    [Fact]
    public async Task The_caller_regains_control_at_the_deadline_even_if_the_work_ignores_the_token()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var budget = Budget.Start("agent-wait", TimeSpan.FromSeconds(180), _options);
        var run = budget.TryRunAsync(async _ =>
        {
            await release.Task;
            return 1;
        });

        _clock.Advance(TimeSpan.FromSeconds(180));
        var result = await run.WaitAsync(Bound);
        Assert.Equal(BudgetOutcome.Expired, result.Outcome);
        Assert.Equal("agent-wait", result.ExpiredLayer);
        budget.Dispose();

        // The work is still running: the monitor sees it as abandoned until it really ends.
        _clock.Advance(TimeSpan.FromSeconds(60));
        var orphan = Assert.Single(_monitor.GetOverdue());
        Assert.Equal("agent-wait", orphan.Path);
        Assert.Equal(TimeSpan.FromSeconds(60), orphan.Overdue);

        release.SetResult();
        await WaitUntil(() => _monitor.LiveCount == 0);
        Assert.Equal(TimeSpan.FromSeconds(60), _monitor.PostDeadlineTotals["agent-wait"]);
    }

    [Fact]
    public async Task Without_a_monitor_work_that_outlives_its_budget_still_gives_control_back_and_counts_no_scope()
    {
        // Only the monitor reads the count of running work: without one, a run costs no interlocked count and no
        // continuation to end it (issue 15, seventh slice). The caller still regains control at the deadline.
        var options = new BudgetOptions { TimeProvider = _clock };
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var budget = Budget.Start("agent-wait", TimeSpan.FromSeconds(180), options);
        var run = budget.TryRunAsync(async _ =>
        {
            await release.Task;
            return 1;
        });

        // The budget's own scope only; with a monitor the run adds one (below).
        Assert.Equal(1, budget.OpenScopes);
        _clock.Advance(TimeSpan.FromSeconds(180));
        var result = await run.WaitAsync(Bound);
        Assert.Equal(BudgetOutcome.Expired, result.Outcome);
        Assert.Equal("agent-wait", result.ExpiredLayer);
        budget.Dispose();
        release.SetResult();

        using var again = Budget.Start("sync", TimeSpan.FromSeconds(10), options);
        var synchronous = again.TryRunAsync(static (_, _) => new ValueTask<int>(2), 0);
        Assert.True(synchronous.IsCompletedSuccessfully);
        Assert.Equal(2, (await synchronous).Value);
        Assert.Equal(1, again.OpenScopes);

        using var monitored = Budget.Start("monitored", TimeSpan.FromSeconds(10), _options);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var counted = monitored.TryRunAsync(async _ =>
        {
            await gate.Task;
            return 3;
        });
        Assert.Equal(2, monitored.OpenScopes);
        gate.SetResult();
        Assert.Equal(3, (await counted.WaitAsync(Bound)).Value);
        await WaitUntil(() => monitored.OpenScopes == 1);
    }

    [Fact]
    public async Task A_non_timeout_failure_is_reported_as_itself_never_as_a_timeout()
    {
        // Seed 004: a ValidationException that looked like a timeout and left the experiment "processing".
        using var budget = Budget.Start("experiment", TimeSpan.FromSeconds(60), _options);
        var failure = new InvalidOperationException("The provided key element does not match the schema");

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => budget.RunAsync(async _ =>
        {
            await Task.Yield();
            throw failure;
        }));
        Assert.Same(failure, thrown);

        var result = await budget.TryRunAsync<int>(_ => throw failure);
        Assert.Equal(BudgetOutcome.Faulted, result.Outcome);
        Assert.Same(failure, result.Exception);
        Assert.Null(result.ExpiredLayer);
    }

    [Fact]
    public async Task A_timeout_of_some_other_layer_is_that_layers_fault_not_ours()
    {
        using var budget = Budget.Start("run", TimeSpan.FromSeconds(60), _options);
        var result = await budget.TryRunAsync<int>(_ => throw new TaskCanceledException("HttpClient.Timeout of 100 seconds elapsing", new TimeoutException()));
        Assert.Equal(BudgetOutcome.Faulted, result.Outcome);
        Assert.IsType<TaskCanceledException>(result.Exception);
    }

    [Fact]
    public async Task The_callers_cancellation_is_reported_as_cancelled()
    {
        using var caller = new CancellationTokenSource();
        using var budget = Budget.Start("script", TimeSpan.FromSeconds(60), _options, caller.Token);
        var run = budget.TryRunAsync(async ct =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return 0;
        });
        _clock.Advance(TimeSpan.FromMilliseconds(500));
        await caller.CancelAsync();

        var result = await run.WaitAsync(Bound);
        Assert.Equal(BudgetOutcome.Cancelled, result.Outcome);
        Assert.IsType<BudgetCancelledException>(result.Exception);
        Assert.Contains("after 500 ms", result.Exception!.Message);
    }

    [Fact]
    public async Task An_expired_budget_rejects_work_before_it_starts()
    {
        using var budget = Budget.FromRemaining("server", TimeSpan.Zero, TimeSpan.FromSeconds(30), _options);
        var started = false;
        var result = await budget.TryRunAsync(_ =>
        {
            started = true;
            return Task.FromResult(0);
        });
        Assert.False(started);
        Assert.Equal(BudgetOutcome.Expired, result.Outcome);
    }

    [Fact]
    public async Task Every_outcome_is_terminal_and_the_monitor_is_left_empty()
    {
        using (var budget = Budget.Start("batch", TimeSpan.FromSeconds(10), _options))
        {
            var outcomes = new[]
            {
                (await budget.TryRunAsync(_ => Task.FromResult(1))).Outcome,
                (await budget.TryRunAsync<int>(_ => Task.FromException<int>(new IOException("disk")))).Outcome,
            };
            Assert.Equal([BudgetOutcome.Completed, BudgetOutcome.Faulted], outcomes);
        }

        Assert.Equal(0, _monitor.LiveCount);
    }

    [Fact]
    public async Task Synchronous_exceptions_from_the_work_delegate_are_faults()
    {
        using var budget = Budget.Start("sync", TimeSpan.FromSeconds(10), _options);
        await Assert.ThrowsAsync<ArgumentException>(() => budget.RunAsync(_ => throw new ArgumentException("bad")));
        await Assert.ThrowsAsync<ArgumentNullException>(() => budget.RunAsync(null!));
    }

    [Fact]
    public async Task No_continuation_of_ours_resumes_on_the_callers_synchronization_context()
    {
        // A UI thread or a classic ASP.NET request: library code that resumes on the caller's context deadlocks a caller
        // that blocks on the task, so every await inside the runs, completed or cancelled, must leave that context alone.
        var context = new CountingContext();
        using var budget = Budget.Start("api", TimeSpan.FromSeconds(20), _options);
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var completing = OnContext(context, () => Task.WhenAll(
            budget.RunAsync(_ => gate.Task),
            budget.RunAsync(_ => (Task)gate.Task),
            budget.TryRunAsync(_ => gate.Task)));
        gate.SetResult(1);
        await completing.WaitAsync(Bound);

        // Cancelled inside the clock's advance on this thread, with the context still set: one run's work ignores the
        // token, the other's finishes as the token cancels; each waits for the cancellation to complete before it reports.
        using var expiring = Budget.Start("wait", TimeSpan.FromSeconds(20), _options);
        var ignored = new TaskCompletionSource<int>();
        var finished = new TaskCompletionSource<int>();
        var cancelling = OnContext(context, () => Task.WhenAll(
            expiring.TryRunAsync(_ => ignored.Task),
            expiring.TryRunAsync(_ => finished.Task)));

        // Registered after the runs started, so it runs first: the second run's work finishes as its token cancels.
        using var registration = expiring.Token.Register(() => finished.SetResult(7));
        OnContext(context, () =>
        {
            _clock.Advance(TimeSpan.FromSeconds(20));
            return true;
        });
        var outcomes = await cancelling.WaitAsync(Bound);

        Assert.Equal([BudgetOutcome.Expired, BudgetOutcome.Completed], outcomes.Select(o => o.Outcome));
        Assert.Equal(0, context.Posts);
    }

    private static T OnContext<T>(SynchronizationContext context, Func<T> action)
    {
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            return action();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    internal static async Task WaitUntil(Func<bool> condition)
    {
        // Continuations of completed work run on the thread pool; poll with a bound instead of sleeping a fixed time.
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Yield();
        }
    }

    /// <summary>Counts what is posted to it, and runs it on the thread pool so nothing waits on it.</summary>
    private sealed class CountingContext : SynchronizationContext
    {
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public override void Post(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posts);
            ThreadPool.QueueUserWorkItem(_ => d(state));
        }
    }
}
