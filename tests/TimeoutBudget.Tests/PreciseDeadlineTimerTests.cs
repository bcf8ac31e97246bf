using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// Issue 15, sixth slice: the system clock's scheduler waits on a thread of its own by the precise clock and spins the
/// last <see cref="PreciseDeadlineTimer.SpinTicks"/> to a deadline; every other clock keeps its own timer and never
/// spins. The decision is tested as a function; the thread only with deadlines already due or within the spin, and a
/// hang guard, never by waiting out a duration.
/// </summary>
public sealed class PreciseDeadlineTimerTests
{
    private const long TicksPerMs = 1_000_000;
    private const long Spin = 100_000;
    private const long LongAgo = -10 * TicksPerMs;
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(1_000, 2_000)] // already past
    [InlineData(1_000, 1_000)] // exactly now
    [InlineData(1_000 + Spin, 1_000)] // the spin's bound itself
    [InlineData(1_000 + 1, 1_000)]
    public void A_deadline_due_or_within_the_spin_ends_the_wait(long due, long now) =>
        Assert.Equal(0, PreciseDeadlineTimer.WaitMilliseconds(due, now, LongAgo, TicksPerMs, Spin, TicksPerMs));

    [Theory]
    [InlineData(Spin + 1, 1)] // just beyond the spin: a millisecond, then look again
    [InlineData(TicksPerMs - 1, 1)]
    [InlineData(TicksPerMs, 1)]
    [InlineData((3 * TicksPerMs) / 2, 1)] // 1.5 ms: wake inside the deadline's last millisecond, not after it
    [InlineData((5 * TicksPerMs) - 1, 4)]
    [InlineData(5 * TicksPerMs, 5)]
    [InlineData(long.MaxValue - 1, int.MaxValue)] // ~292 years: clamped, and the thread looks again after 24 days
    public void A_later_deadline_waits_the_whole_milliseconds_before_it_rounded_down(long left, int expected) =>
        Assert.Equal(expected, PreciseDeadlineTimer.WaitMilliseconds(left, 0, LongAgo, TicksPerMs, Spin, TicksPerMs));

    [Theory]
    [InlineData(0, 1)] // fired just now: a whole millisecond, even for a deadline already due
    [InlineData(1, 1)]
    [InlineData(TicksPerMs - 1, 1)] // the rest of the gap, rounded up: never a spin inside it
    [InlineData(TicksPerMs / 2, 1)]
    public void Within_a_millisecond_of_the_last_firing_even_a_due_deadline_waits_for_the_gap_to_end(long sinceFiring, int expected)
    {
        const long now = 50 * TicksPerMs;
        Assert.Equal(expected, PreciseDeadlineTimer.WaitMilliseconds(now - 1, now, now - sinceFiring, TicksPerMs, Spin, TicksPerMs));
        Assert.Equal(expected, PreciseDeadlineTimer.WaitMilliseconds(now + (Spin / 2), now, now - sinceFiring, TicksPerMs, Spin, TicksPerMs));
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(TicksPerMs / 2, 3)] // 2.5 ms of the gap left: rounded up
    [InlineData(TicksPerMs, 2)]
    [InlineData((2 * TicksPerMs) + 1, 1)]
    public void A_longer_gap_is_waited_out_in_whole_milliseconds_rounded_up(long sinceFiring, int expected)
    {
        const long now = 50 * TicksPerMs;
        Assert.Equal(expected, PreciseDeadlineTimer.WaitMilliseconds(now - 1, now, now - sinceFiring, TicksPerMs, Spin, 3 * TicksPerMs));
    }

    [Fact]
    public void A_millisecond_after_the_last_firing_a_due_deadline_fires_at_once() =>
        Assert.Equal(0, PreciseDeadlineTimer.WaitMilliseconds(99, 100 + TicksPerMs, 100, TicksPerMs, Spin, TicksPerMs));

    [Fact]
    public void Nothing_armed_waits_until_pulsed() =>
        Assert.Equal(Timeout.Infinite, PreciseDeadlineTimer.WaitMilliseconds(long.MaxValue, 0, LongAgo, TicksPerMs, Spin, TicksPerMs));

    [Fact]
    public void A_wait_never_reaches_past_the_deadline_and_ends_only_within_the_spin()
    {
        // Every remaining time from 0 to 20 ms in 7-µs steps, at Linux's frequency and Windows' (10^7).
        foreach (var (perMs, spin) in new[] { (TicksPerMs, Spin), (10_000L, 1_000L) })
        {
            for (var left = 0L; left <= 20 * perMs; left += perMs / 143)
            {
                var wait = PreciseDeadlineTimer.WaitMilliseconds(1_000_000_000 + left, 1_000_000_000, 0, perMs, spin, perMs);
                Assert.Equal(left <= spin, wait == 0);
                if (left > perMs)
                {
                    Assert.True(wait * perMs <= left, $"a wait of {wait} ms for {left} ticks would end after the deadline");
                }
            }
        }
    }

    [Fact]
    public void Only_the_system_clock_has_the_thread_and_a_fake_clock_never_spins()
    {
        Assert.NotNull(DeadlineScheduler.For(TimeProvider.System).PreciseTimer);
        Assert.Null(DeadlineScheduler.For(new FakeTimeProvider()).PreciseTimer);
        Assert.Null(DeadlineScheduler.For(new HandFiredClock()).PreciseTimer);

        // The shared scheduler was created once, by whichever test came first: a new one decides again.
        var unshared = DeadlineScheduler.CreateUnshared(TimeProvider.System, offload: true);
        Assert.NotNull(unshared.PreciseTimer);
        unshared.PreciseTimer.Dispose();
    }

    [Fact]
    public void A_fake_timer_firing_within_the_spin_of_the_deadline_rearms_instead_of_spinning()
    {
        // A spin on a fake clock would never end (the clock stands still): the early firing must re-arm and return.
        var clock = new HandFiredClock();
        using var root = Budget.Start("api", TimeSpan.FromMilliseconds(40), new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None });
        clock.Advance(TimeSpan.FromMilliseconds(40) - TimeSpan.FromTicks(500)); // 50 µs early, within the system clock's spin
        clock.FireAll();
        Assert.False(root.Token.IsCancellationRequested);
        Assert.Equal(TimeSpan.FromMilliseconds(1), clock.LastDue);

        clock.Advance(TimeSpan.FromTicks(500));
        clock.FireAll();
        Assert.True(root.Token.IsCancellationRequested);
    }

    [Fact]
    public void Advancing_a_fake_clock_by_less_than_the_spin_fires_exactly_the_due_budgets_in_deadline_order()
    {
        // Deadlines 30 µs apart, closer than the system clock's spin: the fake clock alone decides, one step at a time.
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None });
        var fired = new List<int>();
        var budgets = new List<Budget>();
        foreach (var i in new[] { 3, 0, 4, 1, 2 })
        {
            var budget = root.DetachedChild("call", TimeSpan.FromMilliseconds(10) + TimeSpan.FromTicks(300 * i));
            budget.Token.Register(() => fired.Add(i));
            budgets.Add(budget);
        }

        clock.Advance(TimeSpan.FromMilliseconds(10) + TimeSpan.FromTicks(299));
        Assert.Equal([0], fired);
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal([0, 1], fired);
        clock.Advance(TimeSpan.FromTicks(900));
        Assert.Equal([0, 1, 2, 3, 4], fired);
        budgets.ForEach(b => b.Dispose());
    }

    [Fact]
    public void A_deadline_already_due_fires_once_on_the_thread_pool()
    {
        var fired = new ConcurrentQueue<bool>();
        using var done = new SemaphoreSlim(0);
        using var timer = new PreciseDeadlineTimer(_ => { fired.Enqueue(Thread.CurrentThread.IsThreadPoolThread); done.Release(); }, new object());

        timer.ArmAt(Stopwatch.GetTimestamp() - 1);
        Assert.True(done.Wait(HangGuard));
        Assert.Equal(new[] { true }, fired.ToArray());
        Assert.Equal(1, timer.Firings);
    }

    [Fact]
    public void An_earlier_deadline_wakes_a_thread_waiting_for_a_later_one()
    {
        using var done = new SemaphoreSlim(0);
        using var timer = new PreciseDeadlineTimer(_ => done.Release(), new object());
        timer.ArmAt(Stopwatch.GetTimestamp() + Stopwatch.Frequency * 3600);

        timer.ArmAt(Stopwatch.GetTimestamp());
        Assert.True(done.Wait(HangGuard), "the hour-long wait was not cut short");
        Assert.Equal(1, timer.Firings);
    }

    [Fact]
    public void Deadlines_within_the_spin_fire_no_earlier_than_due_by_the_precise_clock()
    {
        long firedAt = 0;
        using var done = new SemaphoreSlim(0);
        using var timer = new PreciseDeadlineTimer(_ => { Volatile.Write(ref firedAt, Stopwatch.GetTimestamp()); done.Release(); }, new object());
        for (var i = 0; i < 50; i++)
        {
            // 0 to 98 % of the spin ahead: no wait at all, only the spin (unless the thread is descheduled past it).
            var due = Stopwatch.GetTimestamp() + (PreciseDeadlineTimer.SpinTicks * (i % 50) / 51);
            timer.ArmAt(due);
            Assert.True(done.Wait(HangGuard));
            Assert.True(Volatile.Read(ref firedAt) >= due, $"fired {Volatile.Read(ref firedAt) - due} ticks before the deadline");
        }

        Assert.Equal(50, timer.Firings);
    }

    [Fact]
    public void Its_thread_is_a_named_background_thread_that_a_dispose_wakes_and_ends()
    {
        // A background thread never keeps a process alive; the name tells a dump or a profiler whose thread it is.
        var timer = new PreciseDeadlineTimer(_ => { }, new object());
        var thread = timer.Thread;
        Assert.True(thread.IsBackground);
        Assert.Equal("TimeoutBudget deadlines", thread.Name);

        // Waiting for a deadline an hour away: only the dispose's wake-up ends that wait before the hour is up. The thread
        // may still be in the wait it began before the deadline was armed (woken, not yet running, the wake-up spent):
        // the dispose must find it in the hour-long wait itself, which it does once that wait has begun, since the thread
        // holds the lock the dispose takes until it is inside it.
        var due = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 3600);
        timer.ArmAt(due);
        var guard = Stopwatch.StartNew();
        while (timer.WaitingFor != due)
        {
            Assert.True(guard.Elapsed < HangGuard, "the thread never started waiting for the deadline");
            Thread.Yield();
        }

        timer.Dispose();
        Assert.True(thread.Join(HangGuard), "the disposed timer's thread did not end");
        Assert.Equal(0, timer.Firings);
    }

    [Fact]
    public async Task A_system_clock_budget_expires_no_earlier_than_its_deadline_by_the_precise_clock()
    {
        // Detached children of one root: each ends by its own deadline alone (a root started inside another budget's
        // scope would also end with that budget).
        var expired = new ConcurrentQueue<(long At, long Deadline)>();
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), new BudgetOptions { Margin = BudgetMargin.None });
        var budgets = Enumerable.Range(0, 20).Select(i => root.DetachedChild("api", TimeSpan.FromTicks(1_000 + (700 * i)))).ToList();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var budget in budgets)
        {
            var deadline = budget.DeadlineTimestamp;
            budget.Token.UnsafeRegister(_ =>
            {
                expired.Enqueue((Stopwatch.GetTimestamp(), deadline));
                if (expired.Count == budgets.Count)
                {
                    all.TrySetResult();
                }
            }, null);
        }

        await all.Task.WaitAsync(HangGuard);
        Assert.All(expired, e => Assert.True(e.At >= e.Deadline, $"expired {e.Deadline - e.At} ticks early"));
        budgets.ForEach(b => b.Dispose());
    }
}
