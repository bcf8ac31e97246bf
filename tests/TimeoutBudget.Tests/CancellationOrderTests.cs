using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// Issue 13, item 5: the code after <c>await budget.TryRunAsync(...)</c> never runs inside our cancellation (the timer's
/// or the caller's thread, within <c>Cancel()</c>), and every child is cancelled before it sees the parent's outcome.
/// </summary>
public sealed class CancellationOrderTests
{
    private readonly FakeTimeProvider _clock = new();

    /// <summary>
    /// Runs work under <paramref name="parent"/> the way a service does — on the thread pool, with no synchronization
    /// context to post the continuation elsewhere — and records what the code after the await finds.
    /// </summary>
    private static async Task<Task<(BudgetOutcome Outcome, bool InsideCancel, bool ChildrenCancelled)>> StartObservingAsync(
        Budget parent, Budget[] children, Func<bool> insideCancel)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var observed = Task.Run(async () =>
        {
            var run = parent.TryRunAsync(async token =>
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, token);
                return 0;
            });

            // The run has registered its wake-up on the token by the time TryRunAsync returns.
            started.SetResult();
            var result = await run;

            // User code after the await: where does it run, and what has already happened?
            return (result.Outcome, insideCancel(), children.All(c => c.Token.IsCancellationRequested));
        });
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        return observed;
    }

    [Fact]
    public async Task The_code_after_an_expired_run_never_runs_inside_the_timer_callback_and_sees_every_child_cancelled()
    {
        var inside = false;
        using var parent = Budget.Start("request", TimeSpan.FromSeconds(10), new BudgetOptions { TimeProvider = _clock });
        var children = Enumerable.Range(0, 3).Select(i => parent.DetachedChild("call" + i, Timeout.InfiniteTimeSpan)).ToArray();
        var expiredChildren = children.Select(c => c.DetachedChild("inner", Timeout.InfiniteTimeSpan)).ToArray();
        var observed = await StartObservingAsync(parent, [.. children, .. expiredChildren], () => Volatile.Read(ref inside));

        // The children's deadlines come first (a margin earlier), then the parent's: all within this one Advance.
        inside = true;
        _clock.Advance(TimeSpan.FromSeconds(10));
        Volatile.Write(ref inside, false);

        var (outcome, insideCancel, childrenCancelled) = await observed.WaitAsync(TimeSpan.FromSeconds(10), TimeProvider.System);
        Assert.Equal(BudgetOutcome.Expired, outcome);
        Assert.False(insideCancel, "user code ran inline inside the timer's cancellation");
        Assert.True(childrenCancelled);
        foreach (var child in children.Concat(expiredChildren))
        {
            child.Dispose();
        }
    }

    [Fact]
    public async Task The_code_after_a_cancelled_run_never_runs_inside_the_callers_Cancel_and_sees_every_child_cancelled()
    {
        var inside = false;
        using var caller = new CancellationTokenSource();
        using var parent = Budget.Start("request", TimeSpan.FromSeconds(10), new BudgetOptions { TimeProvider = _clock }, caller.Token);
        var children = Enumerable.Range(0, 3).Select(i => parent.DetachedChild("call" + i, Timeout.InfiniteTimeSpan)).ToArray();
        var grandchildren = children.Select(c => c.DetachedChild("inner", Timeout.InfiniteTimeSpan)).ToArray();

        // Registered after the children: a cancellation runs its callbacks newest first, so the run wakes before them.
        var observed = await StartObservingAsync(parent, [.. children, .. grandchildren], () => Volatile.Read(ref inside));
        inside = true;
        caller.Cancel();
        Volatile.Write(ref inside, false);

        var (outcome, insideCancel, childrenCancelled) = await observed.WaitAsync(TimeSpan.FromSeconds(10), TimeProvider.System);
        Assert.Equal(BudgetOutcome.Cancelled, outcome);
        Assert.False(insideCancel, "user code ran inline inside the caller's Cancel()");
        Assert.True(childrenCancelled, "user code saw the parent's outcome before its children were cancelled");
        foreach (var child in children.Concat(grandchildren))
        {
            child.Dispose();
        }
    }

    [Fact]
    public async Task Work_that_returns_a_value_as_the_token_cancels_is_reported_after_the_cancellation_too()
    {
        var inside = false;
        using var caller = new CancellationTokenSource();
        using var parent = Budget.Start("request", TimeSpan.FromSeconds(10), new BudgetOptions { TimeProvider = _clock }, caller.Token);
        using var child = parent.DetachedChild("call", Timeout.InfiniteTimeSpan);
        var gate = new TaskCompletionSource<int>();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var observed = Task.Run(Observe);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Registered after the run started, so it runs first: the work completes with a value inside the cancellation.
        using var registration = parent.Token.Register(() => gate.TrySetResult(42));
        inside = true;
        caller.Cancel();
        Volatile.Write(ref inside, false);

        var (value, insideCancel, childCancelled) = await observed.WaitAsync(TimeSpan.FromSeconds(10), TimeProvider.System);
        Assert.Equal(42, value);
        Assert.False(insideCancel);
        Assert.True(childCancelled);

        async Task<(int, bool, bool)> Observe()
        {
            var run = parent.TryRunAsync(_ => gate.Task);
            started.SetResult();
            var result = await run;
            return (result.Value, Volatile.Read(ref inside), child.Token.IsCancellationRequested);
        }
    }
}
