using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// Issue 15, fourth slice: when more budgets are due than one batch, the system clock's scheduler expires them on the
/// thread pool (a sweep takes them off the heap, a drain expires the batches). The same scheduler is driven here by a
/// fake clock, so what is due is exact; the tests wait for the drain with a hang guard, never for a duration.
/// </summary>
public sealed class OffloadedExpiryTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Every_due_budget_expires_once_in_deadline_order_across_batches_on_the_thread_pool()
    {
        var clock = new FakeTimeProvider();
        var scheduler = DeadlineScheduler.CreateUnshared(clock, offload: true);
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None, Scheduler = scheduler });

        // 1,000 distinct deadlines, opened in a scrambled order, so the heap (not the order of opening) decides, and
        // far more than one batch is due at once.
        const int count = 1_000;
        var order = Enumerable.Range(0, count).Select(i => (i * 379) % count).ToArray();
        var fired = new ConcurrentQueue<int>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var budgets = new Budget[count];
        foreach (var i in order)
        {
            budgets[i] = root.DetachedChild("call", TimeSpan.FromMilliseconds(1 + i));
            var index = i;
            budgets[i].Token.UnsafeRegister(_ =>
            {
                fired.Enqueue(index);
                if (fired.Count == count)
                {
                    all.TrySetResult();
                }
            }, null);
        }

        var notYet = root.DetachedChild("later", TimeSpan.FromMilliseconds(count + 5));
        clock.Advance(TimeSpan.FromMilliseconds(count));
        await all.Task.WaitAsync(HangGuard);

        Assert.Equal(Enumerable.Range(0, count), fired);
        Assert.All(budgets, budget => Assert.True(budget.IsExpired));
        Assert.Throws<BudgetExhaustedException>(() => budgets[count - 1].ThrowIfExpired());
        Assert.False(notYet.Token.IsCancellationRequested);
        Assert.False(root.Token.IsCancellationRequested);
        Assert.Equal(2, scheduler.Count); // the root and the one not yet due
        Assert.Equal(1, root.LinkedChildCount);
        await WhenDrained(scheduler);

        // The timer is armed again for what is left, and fires it as before.
        clock.Advance(TimeSpan.FromMilliseconds(5));
        Assert.True(notYet.Token.IsCancellationRequested);
        notYet.Dispose();
        Array.ForEach(budgets, budget => budget.Dispose());
        Assert.Equal(1, scheduler.Count);
    }

    [Fact]
    public async Task A_parent_expiring_in_a_later_batch_still_cancels_its_live_children_before_its_own_token()
    {
        var clock = new FakeTimeProvider();
        var scheduler = DeadlineScheduler.CreateUnshared(clock, offload: true);
        var options = new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None, Scheduler = scheduler };
        var filler = Enumerable.Range(0, 200).Select(_ => Budget.Start("filler", TimeSpan.FromMilliseconds(10), options)).ToList();
        var parent = Budget.Start("parent", TimeSpan.FromMilliseconds(20), options);
        var child = parent.DetachedChild("child", TimeSpan.FromMilliseconds(15));
        var grandchild = child.Child("grandchild", Timeout.InfiniteTimeSpan);
        var seenByParent = new TaskCompletionSource<(bool Child, bool Grandchild)>(TaskCreationOptions.RunContinuationsAsynchronously);
        parent.Token.UnsafeRegister(_ => seenByParent.TrySetResult((child.Token.IsCancellationRequested, grandchild.Token.IsCancellationRequested)), null);

        clock.Advance(TimeSpan.FromMilliseconds(20));
        var seen = await seenByParent.Task.WaitAsync(HangGuard);

        Assert.True(seen.Child);
        Assert.True(seen.Grandchild);
        var failure = Assert.Throws<BudgetExhaustedException>(() => grandchild.ThrowIfExpired());
        // Its deadline is its parent's: it ends with the parent's cancellation, and is named as the innermost expired.
        Assert.Equal("parent/child/grandchild", failure.Path);
        await WhenDrained(scheduler);
        grandchild.Dispose();
        child.Dispose();
        parent.Dispose();
        filler.ForEach(budget => budget.Dispose());
        Assert.Equal(0, scheduler.Count);
    }

    [Fact]
    public void A_child_expired_by_the_timer_leaves_its_parents_list_at_once_and_its_dispose_has_nothing_left_to_do()
    {
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None });
        var expiring = root.DetachedChild("short", TimeSpan.FromMilliseconds(10));
        using var living = root.DetachedChild("long", TimeSpan.FromMilliseconds(50));
        Assert.Equal(2, root.LinkedChildCount);

        clock.Advance(TimeSpan.FromMilliseconds(10));

        Assert.True(expiring.Token.IsCancellationRequested);
        Assert.Equal(1, root.LinkedChildCount);
        expiring.Dispose();
        Assert.Equal(1, root.LinkedChildCount);
        Assert.False(living.Token.IsCancellationRequested);
    }

    [Fact]
    public async Task A_few_budgets_due_at_once_expire_inside_the_timer_callback_with_one_batch_kept_for_reuse()
    {
        var clock = new FakeTimeProvider();
        var scheduler = DeadlineScheduler.CreateUnshared(clock, offload: true);
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock, Scheduler = scheduler });
        var calls = Enumerable.Range(0, 3).Select(_ => root.DetachedChild("call", TimeSpan.FromSeconds(1))).ToList();
        var tokens = calls.Select(call => call.Token).ToList();

        clock.Advance(TimeSpan.FromSeconds(1));

        // Expired before the clock's advance returned: no hop to the thread pool, so nothing is left to drain.
        Assert.All(tokens, token => Assert.True(token.IsCancellationRequested));
        await WhenDrained(scheduler);
        Assert.Equal(1, scheduler.SpareBatchCount);
        calls.ForEach(call => call.Dispose());
    }

    [Fact]
    public async Task After_a_burst_at_most_64_emptied_batches_are_kept_for_reuse()
    {
        // The first budget's callback holds the drain while the sweep takes every batch off the heap: 66 batches exist
        // at once, and when they are all expired only 64 are kept, so a burst does not pin its batches for ever.
        const int batches = 66;
        var clock = new FakeTimeProvider();
        var scheduler = DeadlineScheduler.CreateUnshared(clock, offload: true);
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock, Scheduler = scheduler });
        var calls = Enumerable.Range(0, batches * 64).Select(_ => root.DetachedChild("call", TimeSpan.FromSeconds(1))).ToList();
        using var hold = new ManualResetEventSlim();
        calls[0].Token.UnsafeRegister(_ => hold.Wait(HangGuard), null);

        clock.Advance(TimeSpan.FromSeconds(1));
        using (var guard = new CancellationTokenSource(HangGuard))
        {
            while (scheduler.Count > 1)
            {
                await Task.Yield();
                guard.Token.ThrowIfCancellationRequested();
            }
        }

        hold.Set();
        await WhenDrained(scheduler);
        Assert.All(calls, call => Assert.True(call.Token.IsCancellationRequested));
        Assert.Equal(64, scheduler.SpareBatchCount);
        calls.ForEach(call => call.Dispose());
    }

    private static async Task WhenDrained(DeadlineScheduler scheduler)
    {
        // The last callback runs inside the drain: wait (hang-guarded) for the drain to let go.
        using var guard = new CancellationTokenSource(HangGuard);
        while (!scheduler.IsDrained)
        {
            await Task.Yield();
            guard.Token.ThrowIfCancellationRequested();
        }
    }
}
