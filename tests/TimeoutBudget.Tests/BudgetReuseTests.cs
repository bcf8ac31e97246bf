using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// Detached children, the ValueTask run, and tokens that outlive their budget: a token is its budget's alone, so no
/// other budget can ever cancel it.
/// </summary>
public sealed class BudgetReuseTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private readonly FakeTimeProvider _clock = new();
    private readonly BudgetOptions _options;

    public BudgetReuseTests() => _options = new BudgetOptions { TimeProvider = _clock };

    [Fact]
    public void A_detached_child_nests_like_a_child_but_leaves_Current_alone()
    {
        using var root = Budget.Start("orchestrator", Minute, _options);
        using (var client = root.DetachedChild("client", TimeSpan.FromMinutes(5)))
        {
            Assert.Same(root, Budget.Current);
            Assert.Same(root, client.Parent);
            Assert.Equal("orchestrator/client", client.Path);
            Assert.True(client.Deadline < root.Deadline);
            Assert.Equal(TimeSpan.FromMinutes(5), client.Requested);

            _clock.Advance(client.Allotted);
            Assert.True(client.Token.IsCancellationRequested);
            Assert.False(root.Token.IsCancellationRequested);
            var expired = Assert.Throws<BudgetExhaustedException>(client.ThrowIfExpired);
            Assert.Equal("orchestrator/client", expired.Path);
        }

        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public void A_detached_child_is_cancelled_with_its_parent_and_its_caller()
    {
        using var caller = new CancellationTokenSource();
        using var root = Budget.Start("orchestrator", Minute, _options);
        using var client = root.DetachedChildLinkedTo("client", TimeSpan.FromSeconds(10), caller.Token);

        caller.Cancel();

        Assert.True(client.Token.IsCancellationRequested);
        Assert.Throws<BudgetCancelledException>(client.ThrowIfExpired);
    }

    [Fact]
    public void A_token_kept_after_its_budget_ends_cleanly_is_never_cancelled_by_the_next_budget()
    {
        // A streamed body or a fire-and-forget call can outlive the using scope that gave it the token.
        using var root = Budget.Start("orchestrator", Minute, _options);
        CancellationToken escaped;
        using (var call = root.DetachedChild("call", TimeSpan.FromSeconds(10)))
        {
            escaped = call.Token;
        }

        using var next = root.DetachedChild("call", TimeSpan.FromSeconds(10));
        Assert.NotEqual(escaped, next.Token);

        // The next budget expires at its own deadline; the escaped token, whose budget ended cleanly, stays as it was.
        _clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.False(next.Token.IsCancellationRequested);
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(next.Token.IsCancellationRequested);
        Assert.False(escaped.IsCancellationRequested);
    }

    [Fact]
    public void An_expired_budget_keeps_its_cancelled_token_for_the_work_it_abandoned()
    {
        using var root = Budget.Start("orchestrator", Minute, _options);
        CancellationToken abandoned;
        using (var call = root.DetachedChild("call", TimeSpan.FromSeconds(10)))
        {
            abandoned = call.Token;
            _clock.Advance(TimeSpan.FromSeconds(10));
        }

        using var next = root.DetachedChild("call", TimeSpan.FromSeconds(10));
        Assert.NotEqual(abandoned, next.Token);
        Assert.True(abandoned.IsCancellationRequested);
        Assert.False(next.Token.IsCancellationRequested);
    }

    [Fact]
    public void A_budget_disposed_close_to_its_deadline_keeps_its_token_uncancelled()
    {
        using var root = Budget.Start("orchestrator", Minute, _options);
        CancellationToken first;
        using (var call = root.DetachedChild("call", TimeSpan.FromSeconds(10)))
        {
            first = call.Token;
            _clock.Advance(TimeSpan.FromSeconds(9.99));
        }

        using var next = root.DetachedChild("call", TimeSpan.FromSeconds(10));
        Assert.NotEqual(first, next.Token);
        Assert.False(first.IsCancellationRequested);
    }

    [Fact]
    public async Task A_budget_disposed_while_its_run_is_still_going_keeps_its_source()
    {
        using var root = Budget.Start("orchestrator", Minute, _options);
        var work = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var call = root.DetachedChild("call", TimeSpan.FromSeconds(10));
        var held = call.Token;
        var run = call.TryRunAsync(_ => work.Task);
        call.Dispose();

        using (var next = root.DetachedChild("call", TimeSpan.FromSeconds(1)))
        {
            Assert.NotEqual(held, next.Token);
            _clock.Advance(TimeSpan.FromSeconds(1));
            Assert.True(next.Token.IsCancellationRequested);
        }

        Assert.False(held.IsCancellationRequested);
        work.SetResult(7);
        var result = await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(BudgetOutcome.Completed, result.Outcome);
        Assert.Equal(7, result.Value);
    }

    [Fact]
    public void A_timer_firing_early_rearms_for_the_remainder_however_little_it_is()
    {
        var clock = new HandFiredClock();
        using var root = Budget.Start("orchestrator", Minute, new BudgetOptions { TimeProvider = clock });

        clock.FireAll();
        Assert.False(root.Token.IsCancellationRequested);
        Assert.Equal(Minute, clock.LastDue);

        // 10 ms early is more than a coarse tick: not the deadline yet.
        clock.Clock.Advance(TimeSpan.FromSeconds(59.990));
        clock.FireAll();
        Assert.False(root.Token.IsCancellationRequested);
        Assert.False(root.IsExpired);
        Assert.Equal(TimeSpan.FromMilliseconds(10), clock.LastDue);

        // Within a tick of it is still early: the token never cancels before the deadline.
        clock.Clock.Advance(TimeSpan.FromMilliseconds(7));
        clock.FireAll();
        Assert.False(root.Token.IsCancellationRequested);
        Assert.False(root.IsExpired);
        Assert.Equal(TimeSpan.FromMilliseconds(3), clock.LastDue);

        // At the deadline, everything the budget says agrees from then on.
        clock.Clock.Advance(TimeSpan.FromMilliseconds(3));
        clock.FireAll();
        Assert.True(root.Token.IsCancellationRequested);
        Assert.True(root.IsExpired);
        Assert.Equal(TimeSpan.Zero, root.Remaining);
        Assert.Throws<BudgetExhaustedException>(root.ThrowIfExpired);
    }

    [Fact]
    public void A_cancellation_after_the_deadline_is_the_budgets_expiry_even_before_its_timer_fires()
    {
        // On an overloaded machine the timer thread runs late: an enclosing layer's cancellation can reach the work first.
        var clock = new HandFiredClock();
        using var root = Budget.Start("orchestrator", Minute, new BudgetOptions { TimeProvider = clock });
        using var call = root.DetachedChild("call", TimeSpan.FromSeconds(1));

        Assert.Null(call.AsExpiry(new OperationCanceledException()));
        clock.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(call.Token.IsCancellationRequested);

        var expiry = call.AsExpiry(new OperationCanceledException());
        Assert.Equal("orchestrator/call", expiry?.Path);
        Assert.Null(call.AsExpiry(new InvalidOperationException("its own fault")));
    }

    [Fact]
    public async Task The_ValueTask_run_completes_synchronously_when_the_work_does()
    {
        using var root = Budget.Start("orchestrator", Minute, _options);
        var pending = root.TryRunAsync(static (state, token) => new ValueTask<int>(state + (token.CanBeCanceled ? 1 : 0)), 41);

        Assert.True(pending.IsCompletedSuccessfully);
        var result = await pending;
        Assert.Equal(BudgetOutcome.Completed, result.Outcome);
        Assert.Equal(42, result.Value);
    }

    [Fact]
    public async Task The_ValueTask_run_reports_faults_expiry_and_abandonment()
    {
        using var root = Budget.Start("orchestrator", Minute, _options);

        var faulted = await root.TryRunAsync<int, int>(static (_, _) => throw new InvalidOperationException("boom"), 0);
        Assert.Equal(BudgetOutcome.Faulted, faulted.Outcome);
        Assert.IsType<InvalidOperationException>(faulted.Exception);

        using (var call = root.DetachedChild("call", TimeSpan.FromSeconds(5)))
        {
            var never = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            var run = call.TryRunAsync(static (work, _) => new ValueTask<int>(work.Task), never).AsTask();
            Assert.False(run.IsCompleted);
            _clock.Advance(TimeSpan.FromSeconds(5));
            var expired = await run.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(BudgetOutcome.Expired, expired.Outcome);
            Assert.Equal("orchestrator/call", expired.ExpiredLayer);
        }

        using var late = root.DetachedChild("late", TimeSpan.FromSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(1));
        var (started, before) = await WorkProbe.TryStartAsync(late);
        Assert.Equal(BudgetOutcome.Expired, before.Outcome);
        Assert.False(started);
    }

    [Fact]
    public async Task Tokens_never_carry_a_cancellation_over_to_another_budget_on_the_real_clock()
    {
        // Many short budgets on the system clock, some expiring while open, across threads sharing one scheduler: a token
        // seen cancelled must belong to a budget that is due: a token never cancels before its deadline.
        // The callers are dedicated threads, so their spinning never keeps the thread pool from running the timers.
        var tolerance = TimeSpan.Zero;
        using var root = Budget.Start("request", TimeSpan.FromHours(1));
        var violations = 0;
        var expiredSeen = 0;
        var waitedFor = 0;
        var expiredWhileWaiting = 0;
        var workers = Enumerable.Range(0, 4).Select(seed => Task.Factory.StartNew(() =>
        {
            var random = new Random(seed);
            for (var i = 0; i < 3_000; i++)
            {
                // Every 20th caller holds its budget until it expires (bounded), so expiries while open are certain.
                var waitForExpiry = i % 20 == 0;
                using var call = root.DetachedChild("call", TimeSpan.FromMilliseconds(waitForExpiry ? random.Next(1, 5) : random.Next(1, 60)));
                var spin = Stopwatch.StartNew();
                var hold = waitForExpiry ? TimeSpan.FromSeconds(5) : TimeSpan.FromMilliseconds(random.NextDouble() * 0.2);
                while (spin.Elapsed < hold && !(waitForExpiry && call.Token.IsCancellationRequested))
                {
                    if (call.Token.IsCancellationRequested && call.Remaining > tolerance)
                    {
                        Interlocked.Increment(ref violations);
                    }
                }

                if (call.Token.IsCancellationRequested)
                {
                    Interlocked.Increment(ref expiredSeen);
                    if (call.Remaining > tolerance)
                    {
                        Interlocked.Increment(ref violations);
                    }
                }

                if (waitForExpiry)
                {
                    Interlocked.Increment(ref waitedFor);
                    if (call.Token.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref expiredWhileWaiting);
                    }
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(0, violations);
        Assert.Equal(4 * 150, waitedFor);
        Assert.Equal(waitedFor, expiredWhileWaiting);
        Assert.True(expiredSeen >= expiredWhileWaiting);
    }
}
