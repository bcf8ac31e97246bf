using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// Issue 15: one deadline scheduler per clock instead of a timer per budget, and a token created only when read.
/// </summary>
public sealed class DeadlineSchedulerTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public void One_timer_serves_every_budget_of_a_clock()
    {
        var clock = new CountingClock();
        var options = new BudgetOptions { TimeProvider = clock };
        using var root = Budget.Start("request", Minute, options);
        var children = Enumerable.Range(0, 1_000).Select(i => root.DetachedChild("call", TimeSpan.FromMilliseconds(1 + i))).ToList();
        using var other = Budget.Start("other", Minute, options with { Margin = BudgetMargin.None });

        Assert.Equal(1, clock.TimersCreated);
        children.ForEach(child => child.Dispose());
    }

    [Fact]
    public void Advancing_the_fake_clock_fires_exactly_the_due_budgets_in_deadline_order()
    {
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock });
        var fired = new List<string>();

        // Opened out of deadline order, with a tie (the two 20 ms budgets fire in the order they opened) and more due
        // at once than the scheduler expires per batch.
        string[] names = ["30", "10", "50", "20a", "20b", "40"];
        var budgets = names.Select(name => root.DetachedChild(name, TimeSpan.FromMilliseconds(int.Parse(name.TrimEnd('a', 'b'), System.Globalization.CultureInfo.InvariantCulture)))).ToList();
        var many = Enumerable.Range(0, 200).Select(_ => root.DetachedChild("many", TimeSpan.FromMilliseconds(45))).ToList();
        foreach (var budget in budgets.Concat(many))
        {
            budget.Token.Register(() => fired.Add(budget.Layer));
        }

        clock.Advance(TimeSpan.FromMilliseconds(35));
        Assert.Equal(["10", "20a", "20b", "30"], fired);
        Assert.All(budgets.Where(b => b.Layer is "40" or "50").Concat(many), b => Assert.False(b.Token.IsCancellationRequested));

        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(["10", "20a", "20b", "30", "40", .. Enumerable.Repeat("many", 200)], fired);
        Assert.False(budgets.Single(b => b.Layer == "50").Token.IsCancellationRequested);

        clock.Advance(TimeSpan.FromMilliseconds(5));
        Assert.Equal("50", fired[^1]);
        Assert.False(root.Token.IsCancellationRequested);
        budgets.Concat(many).ToList().ForEach(b => b.Dispose());
    }

    [Fact]
    public void Many_budgets_sharing_one_deadline_fire_in_the_order_they_opened()
    {
        // Enough ties to pass through several expiry batches and several heap levels: a heap orders equal keys by
        // accident only, so the opening sequence must decide.
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock });
        var fired = new List<int>();
        var budgets = Enumerable.Range(0, 300).Select(_ => root.DetachedChild("tie", TimeSpan.FromMilliseconds(10))).ToList();
        for (var i = budgets.Count - 1; i >= 0; i--)
        {
            var index = i;
            budgets[i].Token.Register(() => fired.Add(index));
        }

        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(Enumerable.Range(0, 300), fired);
        budgets.ForEach(b => b.Dispose());
    }

    [Fact]
    public void A_timer_firing_early_rearms_for_the_earliest_deadline_and_then_exactly_for_the_next()
    {
        var clock = new HandFiredClock();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None });
        using var first = root.DetachedChild("first", TimeSpan.FromMilliseconds(40));
        using var second = root.DetachedChild("second", TimeSpan.FromMilliseconds(60));
        Assert.Equal(TimeSpan.FromMilliseconds(40), clock.LastDue);

        clock.Advance(TimeSpan.FromMilliseconds(39.5));
        clock.FireAll();
        Assert.False(first.Token.IsCancellationRequested);
        Assert.False(second.Token.IsCancellationRequested);
        Assert.Equal(TimeSpan.FromMilliseconds(1), clock.LastDue);

        clock.Advance(TimeSpan.FromMilliseconds(0.5));
        clock.FireAll();
        Assert.True(first.Token.IsCancellationRequested);
        Assert.False(second.Token.IsCancellationRequested);

        // The next deadline is not an early firing: the timer is armed for exactly what is left of it.
        Assert.Equal(TimeSpan.FromMilliseconds(20), clock.LastDue);
    }

    [Fact]
    public void A_drain_rearms_the_timer_only_for_an_earlier_deadline_and_never_for_an_empty_heap()
    {
        var clock = new HandFiredClock();
        var options = new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None };
        var scheduler = options.Scheduler;
        var root = Budget.Start("request", TimeSpan.FromMinutes(10), options);
        var first = root.DetachedChild("first", Minute);
        var later = root.DetachedChild("later", 2 * Minute);
        Assert.Equal(Minute, clock.LastDue);
        Assert.Equal(1, scheduler.ArrivalCount);

        // The child that waited among the arrivals joins the heap; the earliest deadline is still the one armed for.
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(2, root.LinkedChildCount);
        Assert.Equal(0, scheduler.ArrivalCount);
        Assert.Equal(Minute, clock.LastDue);

        // Everything disposed while one child still waits among the arrivals: the stale firing drains it into an empty
        // heap and arms nothing.
        var waiting = root.DetachedChild("waiting", 3 * Minute);
        Assert.Equal(1, scheduler.ArrivalCount);
        waiting.Dispose();
        first.Dispose();
        later.Dispose();
        root.Dispose();
        Assert.Equal(0, scheduler.Count);
        clock.FireAll();
        Assert.Equal(0, scheduler.ArrivalCount);
        Assert.Equal(Minute, clock.LastDue);
    }

    [Fact]
    public void Disposing_a_budget_takes_its_deadline_out_and_its_kept_token_never_cancels()
    {
        var clock = new FakeTimeProvider();
        var options = new BudgetOptions { TimeProvider = clock };
        using var root = Budget.Start("request", Minute, options);
        var scheduler = options.Scheduler;
        var calls = Enumerable.Range(0, 3).Select(i => root.DetachedChild("call", TimeSpan.FromSeconds(1 + i))).ToList();
        Assert.Equal(4, scheduler.Count);

        var kept = calls[0].Token;
        calls[0].Dispose();
        Assert.Equal(3, scheduler.Count);

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(kept.IsCancellationRequested);
        Assert.True(calls[1].Token.IsCancellationRequested);
        Assert.Equal(2, scheduler.Count);

        calls[1].Dispose();
        calls[2].Dispose();
        Assert.Equal(1, scheduler.Count);
    }

    [Fact]
    public void A_budget_used_only_through_its_clock_creates_no_source_and_still_expires()
    {
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock });
        using var call = root.DetachedChild("call", TimeSpan.FromSeconds(1));

        Assert.True(call.Remaining > TimeSpan.Zero);
        Assert.False(call.IsExpired);
        call.ThrowIfExpired();
        Assert.True(call.Fits(TimeSpan.FromMilliseconds(100)));
        Assert.False(call.HasSource);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(call.HasSource);
        Assert.Equal("request/call", Assert.Throws<BudgetExhaustedException>(call.ThrowIfExpired).Path);

        // Read after the expiry, the token is already cancelled.
        Assert.True(call.Token.IsCancellationRequested);
    }

    [Fact]
    public async Task A_token_read_while_its_budget_is_being_cancelled_is_never_left_uncancelled()
    {
        for (var round = 0; round < 2_000; round++)
        {
            using var caller = new CancellationTokenSource();
            using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = new FakeTimeProvider() }, caller.Token);
            using var call = root.DetachedChild("call", TimeSpan.FromSeconds(10));
            using var start = new Barrier(2);
            var reader = Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                return call.Token;
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

            start.SignalAndWait();
            caller.Cancel();
            var token = await reader.WaitAsync(TimeSpan.FromSeconds(10));

            Assert.True(token.IsCancellationRequested, $"round {round}: the token read during the cancellation stayed live");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_callback_that_throws_on_one_token_does_not_keep_the_other_due_budgets_from_expiring(bool offload)
    {
        // Offloading (the system clock's way) still expires a few due budgets inside the timer callback itself.
        var clock = new FakeTimeProvider();
        var scheduler = DeadlineScheduler.CreateUnshared(clock, offload);
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock, Scheduler = scheduler });
        using var throwing = root.DetachedChild("throwing", TimeSpan.FromSeconds(1));
        using var alsoThrowing = root.DetachedChild("also throwing", TimeSpan.FromSeconds(1));
        using var next = root.DetachedChild("next", TimeSpan.FromSeconds(2));
        throwing.Token.Register(() => throw new InvalidOperationException("a caller's callback"));
        alsoThrowing.Token.Register(() => throw new InvalidOperationException("another caller's callback"));

        var failure = Assert.Throws<AggregateException>(() => clock.Advance(TimeSpan.FromSeconds(3)));

        // Both due together, both reported, in deadline (then opening) order.
        Assert.Equal(["a caller's callback", "another caller's callback"], failure.Flatten().InnerExceptions.Select(e => e.Message));
        Assert.True(throwing.Token.IsCancellationRequested);
        Assert.True(next.Token.IsCancellationRequested);
        Assert.True(next.IsExpired);
    }

    [Theory]
    [InlineData(15, 400)]
    [InlineData(1, 40)]
    [InlineData(2, 90)]
    [InlineData(3, 1_000)]
    public void Deadlines_taken_out_anywhere_in_the_heap_leave_every_other_one_firing_exactly_when_due(int seed, int count)
    {
        // Disposing from the middle of the heap moves its last entry there, which must then move up or down: a wrong
        // choice leaves a due deadline buried under a later one, and it fires late.
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None });
        var random = new Random(seed);
        var children = Enumerable.Range(0, count).Select(_ => root.DetachedChild("call", TimeSpan.FromMilliseconds(random.Next(1, 1_000)))).ToList();
        var tokens = children.ToDictionary(child => child, child => child.Token);
        var disposed = children.Where(_ => random.Next(2) == 0).ToList();
        disposed.ForEach(child => child.Dispose());
        var live = children.Except(disposed).ToList();

        for (var step = 0; step < 1_000; step++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            var now = clock.GetTimestamp();
            Assert.All(live, child => Assert.Equal(child.DeadlineTimestamp <= now, tokens[child].IsCancellationRequested));
        }

        Assert.All(disposed, child => Assert.False(tokens[child].IsCancellationRequested));
        live.ForEach(child => child.Dispose());
    }

    [Fact]
    public void The_heap_gives_back_its_array_as_its_deadlines_leave_by_dispose_or_by_expiry()
    {
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock });
        var scheduler = root.Options.Scheduler;
        var children = Enumerable.Range(0, 1_000).Select(i => root.DetachedChild("call", TimeSpan.FromSeconds(10 + i))).ToList();
        Assert.Equal(1_001, scheduler.Count);
        Assert.Equal(1_024, scheduler.HeapCapacity);

        // Halved each time fewer than a quarter of it is used, never below 16 entries.
        var expected = 1_024;
        for (var i = children.Count - 1; i >= 0; i--)
        {
            children[i].Dispose();
            if (expected > 16 && i + 1 < expected / 4)
            {
                expected /= 2;
            }

            Assert.Equal(i + 1, scheduler.Count);
            Assert.Equal(expected, scheduler.HeapCapacity);
        }

        Assert.Equal(16, scheduler.HeapCapacity);

        // By expiry: 1,000 due at once leave in batches, and the array is halved once they are gone.
        var due = Enumerable.Range(0, 1_000).Select(_ => root.DetachedChild("call", TimeSpan.FromSeconds(1))).ToList();
        Assert.Equal(1_024, scheduler.HeapCapacity);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.All(due, child => Assert.True(child.IsExpired));
        Assert.Equal(1, scheduler.Count);
        Assert.Equal(512, scheduler.HeapCapacity);
        due.ForEach(child => child.Dispose());
    }

    [Fact]
    public void A_logger_that_throws_at_an_expiry_does_not_keep_the_other_due_budgets_or_later_ones_from_expiring()
    {
        // A clock whose timer survives a throwing callback (FakeTimeProvider's stops firing after one), as the system's does.
        var clock = new HandFiredClock();
        var options = new BudgetOptions { TimeProvider = clock, LoggerFactory = new ThrowingLoggerFactory() };
        using var root = Budget.Start("request", Minute, options);

        // More due at once than one batch, so the throw happens while the scheduler has more to take off its heap.
        var due = Enumerable.Range(0, 100).Select(_ => root.DetachedChild("call", TimeSpan.FromSeconds(1))).ToList();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.ThrowsAny<Exception>(clock.FireAll);
        Assert.All(due, budget => Assert.True(budget.Token.IsCancellationRequested));

        using var later = root.DetachedChild("later", TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.ThrowsAny<Exception>(clock.FireAll);
        Assert.True(later.Token.IsCancellationRequested);
        due.ForEach(budget => budget.Dispose());
    }

    private sealed class ThrowingLoggerFactory : Microsoft.Extensions.Logging.ILoggerFactory
    {
        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new ThrowingLogger();

        public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class ThrowingLogger : Microsoft.Extensions.Logging.ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

            public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                throw new InvalidOperationException("the log sink is down");
        }
    }

    [Fact]
    public async Task Tokens_kept_after_their_budgets_ended_cleanly_are_never_cancelled_by_the_budgets_after_them_on_the_real_clock()
    {
        // Threads open short budgets on the system clock; every other one is held until it expires, the rest are
        // disposed at once and their tokens kept, as a streamed body keeps its token past the using scope.
        using var root = Budget.Start("request", TimeSpan.FromHours(1));
        var kept = new System.Collections.Concurrent.ConcurrentBag<CancellationToken>();
        var expired = 0;
        var workers = Enumerable.Range(0, 4).Select(seed => Task.Factory.StartNew(() =>
        {
            var random = new Random(seed);
            for (var i = 0; i < 1_000; i++)
            {
                // A kept budget has 10 s and is disposed at once, so only another budget could cancel its token.
                var keep = i % 2 == 0;
                using var call = root.DetachedChild("call", keep ? TimeSpan.FromSeconds(10) : TimeSpan.FromMilliseconds(random.Next(1, 4)));
                var token = call.Token;
                if (keep)
                {
                    kept.Add(token);
                    continue;
                }

                var waited = System.Diagnostics.Stopwatch.StartNew();
                while (!token.IsCancellationRequested && waited.Elapsed < TimeSpan.FromSeconds(5))
                {
                    Thread.SpinWait(100);
                }

                if (token.IsCancellationRequested)
                {
                    Interlocked.Increment(ref expired);
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(4 * 500, expired);
        Assert.Equal(4 * 500, kept.Count);
        Assert.All(kept, token => Assert.False(token.IsCancellationRequested));
    }

    [Fact]
    public void Children_disposed_before_the_next_drain_never_enter_the_heap_and_are_not_kept_reachable()
    {
        // Issue 15, seventh slice: a child is pushed onto a stack of arrivals instead of taking the scheduler's lock, and
        // one disposed before anything drains that stack never takes it at all; every 64th arrival drains the stack, so
        // disposed children are not kept reachable.
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock });
        using var first = root.DetachedChild("first", TimeSpan.FromSeconds(10));
        var scheduler = root.Options.Scheduler;
        Assert.Equal(0, scheduler.ArrivalCount);

        var maximum = 0;
        for (var i = 0; i < 10_000; i++)
        {
            // Later deadlines than the armed one (the first child's): nothing makes these drain but their number.
            clock.Advance(TimeSpan.FromTicks(1));
            using var child = root.DetachedChild("call", TimeSpan.FromSeconds(10));
            Assert.True(child.Token.CanBeCanceled);
            maximum = Math.Max(maximum, scheduler.ArrivalCount);
        }

        // The 64th arrival since the last drain drains the stack, itself included: never more than 63 wait.
        Assert.Equal(63, maximum);
        Assert.Equal(2, scheduler.Count);
        Assert.Equal(0, scheduler.ArrivalCount);
        Assert.Equal(1, root.LinkedChildCount);

        // A drain by any other path (here, counting the children) starts the count again: 63 more may wait.
        var waiting = Enumerable.Range(0, 63).Select(_ => root.DetachedChild("call", TimeSpan.FromSeconds(10))).ToList();
        Assert.Equal(63, scheduler.ArrivalCount);
        waiting.ForEach(child => child.Dispose());
    }

    [Fact]
    public void A_child_cancelled_by_its_own_token_while_arriving_never_enters_the_heap_or_its_parents_list()
    {
        var clock = new FakeTimeProvider();
        var options = new BudgetOptions { TimeProvider = clock };
        using var root = Budget.Start("request", Minute, options);
        using var first = root.DetachedChild("first", TimeSpan.FromSeconds(10));
        using var caller = new CancellationTokenSource();
        using var linked = root.DetachedChildLinkedTo("call", TimeSpan.FromSeconds(20), caller.Token);
        Assert.Equal(1, options.Scheduler.ArrivalCount);

        caller.Cancel();
        Assert.True(linked.Token.IsCancellationRequested);
        Assert.Equal(0, options.Scheduler.ArrivalCount);
        Assert.Equal(2, options.Scheduler.Count);
        Assert.Equal(1, root.LinkedChildCount);
    }

    [Fact]
    public void A_child_arriving_with_a_deadline_earlier_than_the_armed_one_drains_itself_and_fires_on_time()
    {
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock });
        using var later = root.DetachedChild("later", TimeSpan.FromSeconds(30));
        using var pending = root.DetachedChild("pending", TimeSpan.FromSeconds(40));
        Assert.Equal(1, root.Options.Scheduler.ArrivalCount);

        using var earlier = root.DetachedChild("earlier", TimeSpan.FromSeconds(5));
        Assert.Equal(0, root.Options.Scheduler.ArrivalCount);

        clock.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(earlier.Token.IsCancellationRequested);
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(earlier.Token.IsCancellationRequested);
        Assert.False(later.Token.IsCancellationRequested);

        clock.Advance(TimeSpan.FromSeconds(35));
        Assert.True(later.Token.IsCancellationRequested);
        Assert.True(pending.Token.IsCancellationRequested);
        Assert.Equal("request/pending", Assert.Throws<BudgetExhaustedException>(pending.ThrowIfExpired).Path);
    }

    [Fact]
    public void Children_still_arriving_when_their_parent_is_cancelled_are_cancelled_before_its_token()
    {
        var clock = new FakeTimeProvider();
        using var caller = new CancellationTokenSource();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock }, caller.Token);
        using var armed = root.DetachedChild("armed", TimeSpan.FromSeconds(1));
        var arriving = Enumerable.Range(0, 3).Select(i => root.DetachedChild("call" + i, TimeSpan.FromSeconds(5))).ToArray();
        var grandchild = arriving[0].DetachedChild("inner", TimeSpan.FromSeconds(2));
        Assert.Equal(4, root.Options.Scheduler.ArrivalCount);

        var seenByParentCallback = false;
        using var registration = root.Token.Register(() =>
            seenByParentCallback = arriving.Append(grandchild).All(b => b.Token.IsCancellationRequested));
        caller.Cancel();

        Assert.True(seenByParentCallback, "the parent's token ran its callbacks before its arriving children were cancelled");
        Assert.Equal("request", Assert.Throws<BudgetCancelledException>(grandchild.ThrowIfExpired).Path);
        grandchild.Dispose();
        foreach (var child in arriving)
        {
            child.Dispose();
        }

        Assert.Equal(0, root.Options.Scheduler.ArrivalCount);
    }

    [Fact]
    public void Children_still_arriving_when_their_parent_expires_expire_with_it_in_deadline_order()
    {
        var clock = new FakeTimeProvider();
        var options = new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None };
        using var other = Budget.Start("other", Minute, options);
        using var armed = other.DetachedChild("armed", TimeSpan.FromSeconds(1));
        using var parent = Budget.Start("parent", TimeSpan.FromSeconds(10), options);
        using var child = parent.DetachedChild("child", TimeSpan.FromSeconds(8));
        Assert.True(parent.Options.Scheduler.ArrivalCount >= 1);
        var fired = new List<string>();
        foreach (var budget in new[] { parent, child })
        {
            budget.Token.Register(() => fired.Add(budget.Layer));
        }

        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(["child", "parent"], fired);
        Assert.Equal("parent/child", Assert.Throws<BudgetExhaustedException>(child.ThrowIfExpired).Path);
    }

    [Fact]
    public async Task A_drain_that_meets_a_child_still_being_opened_waits_for_it_and_then_schedules_it_by_its_deadline()
    {
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", Minute, new BudgetOptions { TimeProvider = clock });
        var scheduler = root.Options.Scheduler;
        var opening = root.EnrollChildForTests("opening");

        // Another thread drains (here, by counting): it takes the stack of arrivals, meets the child whose opener has read
        // the clock but not yet written its deadline, and waits for it.
        var counting = Task.Factory.StartNew(() => scheduler.Count, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            Assert.True(SpinWait.SpinUntil(() => !scheduler.HasArrivals, TimeSpan.FromSeconds(10)), "the drain never took the stack of arrivals");
            Assert.False(counting.IsCompleted, "the drain went past a child whose deadline was not written yet");
        }
        finally
        {
            // Whatever the assertions found, the drain (which holds the lock) is let go.
            opening.CompleteOpeningForTests(TimeSpan.FromSeconds(10));
        }
        Assert.Equal(2, await counting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, root.LinkedChildCount);
        Assert.Same(root, Budget.Current);

        // Scheduled by the deadline its opener wrote, not by whatever the field held when the drain met it.
        clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.False(opening.Token.IsCancellationRequested);
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(opening.Token.IsCancellationRequested);
        opening.Dispose();
        Assert.Equal(1, scheduler.Count);
    }

    [Fact]
    public async Task Children_enrolled_but_never_scheduled_leave_the_arrivals_at_the_next_drain()
    {
        var clock = new FakeTimeProvider();
        var clamp = new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None, Mode = BudgetMode.Clamp };
        using var root = Budget.Start("request", Minute, clamp);
        using var reserving = root.DetachedChild("reserving", TimeSpan.FromSeconds(30));
        var scheduler = root.Options.Scheduler;
        Assert.Equal(2, await DrainOnAnotherThread(scheduler));

        // Asking for more than fits: the child enrolled for it steps aside before the report, and a clamped one replaces it.
        using var clamped = root.DetachedChild("clamped", 2 * Minute);
        Assert.Equal(Minute, clamped.Allotted);
        Assert.Equal(2 * Minute, clamped.Requested);

        // In Strict mode the report throws: the enrolled child has stepped aside all the same.
        using var strictRoot = Budget.Start("strict", Minute, clamp with { Mode = BudgetMode.Strict });
        Assert.Throws<BudgetMisalignedException>(() => strictRoot.DetachedChild("too-long", 2 * Minute));

        // Inside the parent's reserve tail: born expired, never scheduled.
        using var withReserve = reserving.Child("inner", TimeSpan.FromSeconds(20), reserve: TimeSpan.FromSeconds(5));
        clock.Advance(TimeSpan.FromSeconds(16));
        using var bornExpired = withReserve.DetachedChild("late", TimeSpan.FromSeconds(1));
        Assert.True(bornExpired.Token.IsCancellationRequested);

        // root, reserving, clamped, strict, inner: the withdrawn children are dropped, and the drain does not wait for them.
        Assert.Equal(5, await DrainOnAnotherThread(scheduler));
        Assert.Equal(0, scheduler.ArrivalCount);
        Assert.Equal(2, root.LinkedChildCount);
        Assert.Equal(0, withReserve.LinkedChildCount);
    }

    [Fact]
    public void A_plan_child_clamped_after_its_enrolled_child_stepped_aside_keeps_its_plan_layer_and_what_it_asked_for()
    {
        var clock = new FakeTimeProvider();
        var plan = BudgetPlan.Parse("""
            { "layer": "api", "timeout": "10s", "children": [ { "layer": "db", "timeout": "2s", "reserve": "100ms" } ] }
            """);
        using var root = plan.Start(new BudgetOptions { TimeProvider = clock, Mode = BudgetMode.Clamp });
        clock.Advance(TimeSpan.FromSeconds(9));

        // 1 s left, less the margin: the 2 s layer is clamped, and the child that replaces the enrolled one keeps all of it.
        using var db = root.Child("db");
        Assert.Same(plan.Root.FindChild("db"), db.PlanNode);
        Assert.Equal(TimeSpan.FromSeconds(2), db.Requested);
        Assert.Equal(root.Available, db.Allotted);
        Assert.Equal(TimeSpan.FromMilliseconds(100), db.Reserve);
        Assert.Equal(2, root.Options.Scheduler.Count);
    }

    [Fact]
    public void Children_born_expired_or_refused_one_after_another_never_keep_more_than_63_arrivals_waiting()
    {
        var clock = new FakeTimeProvider();
        var options = new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None };
        using var root = Budget.Start("request", Minute, options);
        using var strictRoot = Budget.Start("strict", Minute, options with { Mode = BudgetMode.Strict });
        var scheduler = root.Options.Scheduler;
        Assert.Equal(0, scheduler.ArrivalCount);

        var maximum = 0;
        for (var i = 0; i < 1_000; i++)
        {
            if (i % 2 == 0)
            {
                using var probe = root.DetachedChild("probe", TimeSpan.Zero);
                Assert.True(probe.IsExpired);
            }
            else
            {
                Assert.Throws<BudgetMisalignedException>(() => strictRoot.DetachedChild("too-long", 2 * Minute));
            }

            maximum = Math.Max(maximum, scheduler.ArrivalCount);
        }

        // Each is dropped at a drain, and the 64th since the last drain drains: never more than 63 wait.
        Assert.Equal(63, maximum);
        Assert.Equal(2, scheduler.Count);
        Assert.Equal(0, scheduler.ArrivalCount);
    }

    [Fact]
    public async Task Children_opened_on_many_threads_while_others_drain_are_all_scheduled_by_their_own_deadlines()
    {
        const int Openers = 4;
        const int ChildrenPerOpener = 5_000;
        var clock = new FakeTimeProvider();
        using var root = Budget.Start("request", TimeSpan.FromHours(1), new BudgetOptions { TimeProvider = clock, Margin = BudgetMargin.None });
        var scheduler = root.Options.Scheduler;
        using var stop = new CancellationTokenSource();

        // Drains by every path but the timer, as fast as it can, while the openers enrol children.
        var drainer = Task.Run(() =>
        {
            var drains = 0;
            while (!stop.IsCancellationRequested)
            {
                _ = drains++ % 2 == 0 ? scheduler.Count : root.LinkedChildCount;
            }

            return drains;
        });

        // Each opener keeps every other child (the rest are disposed at once): distinct lengths, so each deadline is its own.
        var openers = Enumerable.Range(0, Openers).Select(opener => Task.Run(() =>
        {
            var kept = new List<(Budget Child, TimeSpan Length)>();
            for (var i = 0; i < ChildrenPerOpener; i++)
            {
                var length = TimeSpan.FromMilliseconds(1 + (i * Openers) + opener);
                var child = root.DetachedChild("call", length);
                if (i % 2 == 0)
                {
                    kept.Add((child, length));
                }
                else
                {
                    child.Dispose();
                }
            }

            return kept;
        })).ToArray();

        var children = (await Task.WhenAll(openers).WaitAsync(TimeSpan.FromSeconds(60))).SelectMany(kept => kept).OrderBy(kept => kept.Length).ToList();
        await stop.CancelAsync();
        Assert.True(await drainer.WaitAsync(TimeSpan.FromSeconds(60)) > 0);
        Assert.Equal(1 + (Openers * ChildrenPerOpener / 2), scheduler.Count);
        Assert.Equal(Openers * ChildrenPerOpener / 2, root.LinkedChildCount);

        // Each kept child fires exactly at its own deadline: none before, none after.
        var elapsed = TimeSpan.Zero;
        foreach (var (child, length) in children)
        {
            clock.Advance(length - TimeSpan.FromTicks(1) - elapsed);
            Assert.False(child.Token.IsCancellationRequested, $"{length.TotalMilliseconds} ms child fired early");
            clock.Advance(TimeSpan.FromTicks(1));
            Assert.True(child.Token.IsCancellationRequested, $"{length.TotalMilliseconds} ms child did not fire");
            elapsed = length;
            child.Dispose();
        }

        Assert.Equal(1, scheduler.Count);
    }

    /// <summary>Counts the scheduler's deadlines from another thread, which drains the arrivals first; times out rather than hangs.</summary>
    private static Task<int> DrainOnAnotherThread(DeadlineScheduler scheduler) =>
        Task.Factory.StartNew(() => scheduler.Count, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            .WaitAsync(TimeSpan.FromSeconds(10));

    /// <summary>A fake clock that counts the timers created through it.</summary>
    private sealed class CountingClock : TimeProvider
    {
        private readonly FakeTimeProvider _clock = new();
        private int _created;

        public int TimersCreated => Volatile.Read(ref _created);

        public override long TimestampFrequency => _clock.TimestampFrequency;

        public override long GetTimestamp() => _clock.GetTimestamp();

        public override DateTimeOffset GetUtcNow() => _clock.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _created);
            return _clock.CreateTimer(callback, state, dueTime, period);
        }
    }
}
