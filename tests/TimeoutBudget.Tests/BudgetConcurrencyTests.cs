using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// <see cref="Budget.Current"/> under concurrency: many async flows opening and disposing nested budgets at once, with
/// awaits between the steps, must each see only their own chain; nothing leaks between sibling flows; and a monitor ends
/// with nothing live once everything is disposed.
/// </summary>
/// <remarks>
/// All budgets run on a <see cref="FakeTimeProvider"/> (advanced only where a test says so), so nothing expires by accident
/// and nothing sleeps. Every wait is bounded.
/// </remarks>
public sealed class BudgetConcurrencyTests
{
    private const int Flows = 64;
    private const int IterationsPerFlow = 300;
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// 64 flows, all inside one shared outer budget, each opening hundreds of random nested chains (via Child, the reserve
    /// overload and Enter) with <c>await Task.Yield()</c> between openings and between disposals: at every step Current is the
    /// flow's own innermost budget, and after each chain is disposed in reverse Current is back to the shared outer budget.
    /// </summary>
    [Fact]
    public async Task Parallel_flows_each_see_their_own_innermost_budget()
    {
        Assert.Null(Budget.Current);
        var time = new FakeTimeProvider(Epoch);
        var monitor = new BudgetMonitor(time);
        var options = new BudgetOptions { TimeProvider = time, Monitor = monitor };
        var opened = 0L;

        var outer = Budget.Start("outer", TimeSpan.FromHours(1), options);
        try
        {
            var flows = Enumerable.Range(0, Flows).Select(flow => Task.Run(async () =>
            {
                var random = new Random(flow);
                Assert.Same(outer, Budget.Current);
                for (var iteration = 0; iteration < IterationsPerFlow; iteration++)
                {
                    var before = Budget.Current;
                    Assert.Same(outer, before);
                    var chain = new List<Budget>();
                    try
                    {
                        var depth = random.Next(1, 7);
                        for (var level = 0; level < depth; level++)
                        {
                            var parent = level == 0 ? before! : chain[^1];
                            Assert.Same(parent, Budget.Current);
                            var timeout = random.Next(4) == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(random.Next(1, 3_600));
                            var layer = $"f{flow}-l{level}";
                            var budget = random.Next(3) switch
                            {
                                0 => Budget.Enter(layer, timeout),
                                1 => parent.Child(layer, timeout, TimeSpan.FromMilliseconds(random.Next(0, 100))),
                                _ => parent.Child(layer, timeout),
                            };
                            chain.Add(budget);
                            Interlocked.Increment(ref opened);
                            Assert.Same(parent, budget.Parent);
                            Assert.Same(budget, Budget.Current);
                            Assert.False(budget.Token.IsCancellationRequested);

                            // This flow's outer + chain are live, whatever the other flows are doing.
                            Assert.True(monitor.LiveCount >= chain.Count + 1, $"monitor sees {monitor.LiveCount} live budgets, this flow alone holds {chain.Count + 1}");

                            await Task.Yield();
                            Assert.Same(budget, Budget.Current);
                        }

                        for (var i = chain.Count - 1; i >= 0; i--)
                        {
                            Assert.Same(chain[i], Budget.Current);
                            chain[i].Dispose();
                            Assert.Same(i > 0 ? chain[i - 1] : before, Budget.Current);
                            if (random.Next(2) == 0)
                            {
                                await Task.Yield();
                                Assert.Same(i > 0 ? chain[i - 1] : before, Budget.Current);
                            }
                        }
                    }
                    finally
                    {
                        for (var i = chain.Count - 1; i >= 0; i--)
                        {
                            chain[i].Dispose();
                        }
                    }

                    Assert.Same(before, Budget.Current);
                }

                Assert.Same(outer, Budget.Current);
            })).ToArray();

            await Task.WhenAll(flows).WaitAsync(WaitLimit);

            // Nothing the flows opened flowed back into this one.
            Assert.Same(outer, Budget.Current);
            Assert.Equal(1, monitor.LiveCount);
        }
        finally
        {
            outer.Dispose();
        }

        Assert.Null(Budget.Current);
        Assert.Equal(0, monitor.LiveCount);
        Assert.Equal(0, monitor.Untracked);
        Assert.True(Interlocked.Read(ref opened) >= Flows * IterationsPerFlow);
    }

    /// <summary>
    /// Two sibling flows, both started before either opens anything, take turns: each opens a chain while the other's chain
    /// is open, and each only ever sees its own. A sibling started before this flow opened its budgets still sees none.
    /// </summary>
    [Fact]
    public async Task Budgets_opened_in_one_flow_do_not_leak_into_a_sibling_flow()
    {
        Assert.Null(Budget.Current);
        var time = new FakeTimeProvider(Epoch);
        var monitor = new BudgetMonitor(time);
        var options = new BudgetOptions { TimeProvider = time, Monitor = monitor };

        var aOpened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bOpened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aDisposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Started before anything is open; waits for the sibling to open its chain, then looks.
        var observer = Task.Run(async () =>
        {
            var atStart = Budget.Current;
            await aOpened.Task.WaitAsync(WaitLimit);
            var whileSiblingOpen = Budget.Current;
            return (atStart, whileSiblingOpen);
        });

        var a = Task.Run(async () =>
        {
            Assert.Null(Budget.Current);
            using var root = Budget.Start("a", TimeSpan.FromHours(1), options);
            using var child = root.Child("a-child", TimeSpan.FromMinutes(10));
            aOpened.SetResult();
            await bOpened.Task.WaitAsync(WaitLimit);

            // B has its own chain open now: A still sees A's.
            Assert.Same(child, Budget.Current);
            return child;
        });

        var b = Task.Run(async () =>
        {
            Assert.Null(Budget.Current);
            await aOpened.Task.WaitAsync(WaitLimit);

            // A's chain is open now: B sees nothing.
            Assert.Null(Budget.Current);
            using var root = Budget.Start("b", TimeSpan.FromHours(1), options);
            Assert.Same(root, Budget.Current);
            Assert.Null(root.Parent);
            bOpened.SetResult();
            await aDisposed.Task.WaitAsync(WaitLimit);

            // A has disposed its chain: B still sees its own.
            Assert.Same(root, Budget.Current);
            return root;
        });

        var aChild = await a.WaitAsync(WaitLimit);
        Assert.True(aChild.IsDisposed);
        aDisposed.SetResult();
        var bRoot = await b.WaitAsync(WaitLimit);
        Assert.True(bRoot.IsDisposed);

        var (atStart, whileSiblingOpen) = await observer.WaitAsync(WaitLimit);
        Assert.Null(atStart);
        Assert.Null(whileSiblingOpen);

        // Nor did anything leak into the test's own flow.
        Assert.Null(Budget.Current);
        Assert.Equal(0, monitor.LiveCount);
    }

    /// <summary>
    /// A flow started inside a budget inherits it as Current, but what it opens — even a budget it never disposes — does not
    /// flow back to its parent or into its siblings; disposing the abandoned budget later, from another flow, leaves every
    /// flow's Current alone.
    /// </summary>
    [Fact]
    public async Task Child_flows_inherit_the_current_budget_but_do_not_leak_back()
    {
        Assert.Null(Budget.Current);
        var time = new FakeTimeProvider(Epoch);
        var monitor = new BudgetMonitor(time);
        var options = new BudgetOptions { TimeProvider = time, Monitor = monitor };

        var root = Budget.Start("root", TimeSpan.FromHours(1), options);
        var abandoned = new List<Budget>();
        try
        {
            var children = Enumerable.Range(0, Flows).Select(flow => Task.Run(async () =>
            {
                Assert.Same(root, Budget.Current);
                var mine = root.Child($"flow{flow}", TimeSpan.FromMinutes(30));
                await Task.Yield();
                Assert.Same(mine, Budget.Current);
                Assert.Same(root, mine.Parent);
                return mine; // deliberately not disposed here
            })).ToArray();

            abandoned.AddRange(await Task.WhenAll(children).WaitAsync(WaitLimit));
            Assert.Equal(Flows, abandoned.Distinct().Count());

            // None of the 64 undisposed children leaked back into this flow.
            Assert.Same(root, Budget.Current);
            Assert.Equal(Flows + 1, monitor.LiveCount);

            // A child of root opened here sees root as its parent, not any of the abandoned ones.
            using (var here = Budget.Enter("here", TimeSpan.FromMinutes(1)))
            {
                Assert.Same(root, here.Parent);
                Assert.Same(here, Budget.Current);
            }

            Assert.Same(root, Budget.Current);

            // Disposing them from yet another flow changes no one's Current.
            await Task.Run(() =>
            {
                Assert.Same(root, Budget.Current);
                foreach (var budget in abandoned)
                {
                    budget.Dispose();
                }

                Assert.Same(root, Budget.Current);
            }).WaitAsync(WaitLimit);

            Assert.Same(root, Budget.Current);
            Assert.Equal(1, monitor.LiveCount);
        }
        finally
        {
            foreach (var budget in abandoned)
            {
                budget.Dispose();
            }

            root.Dispose();
        }

        Assert.Null(Budget.Current);
        Assert.Equal(0, monitor.LiveCount);
    }

    /// <summary>
    /// Leak check under churn: 64 flows open and dispose random chains of roots and children in Clamp and Strict mode,
    /// including zero timeouts (born expired), requests that do not fit (clamped, or thrown in Strict) and children of
    /// parents that have expired (thrown), while another flow keeps advancing the shared fake clock so timers fire
    /// concurrently with openings and disposals. Failed openings leave Current alone; once everything is disposed the
    /// monitor has nothing live and tracked everything.
    /// </summary>
    [Fact]
    public async Task Monitor_has_nothing_live_once_everything_is_disposed()
    {
        Assert.Null(Budget.Current);
        var time = new FakeTimeProvider(Epoch);
        var monitor = new BudgetMonitor(time);
        var clamp = new BudgetOptions { TimeProvider = time, Monitor = monitor, Mode = BudgetMode.Clamp };
        var strict = new BudgetOptions { TimeProvider = time, Monitor = monitor, Mode = BudgetMode.Strict };
        var opened = 0L;
        var exhausted = 0L;
        var misaligned = 0L;
        var maxLive = 0;

        using var stop = new CancellationTokenSource();
        var clock = Task.Run(async () =>
        {
            var random = new Random(-1);
            while (!stop.IsCancellationRequested)
            {
                time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 20)));
                await Task.Yield();
            }
        });

        var flows = Enumerable.Range(0, Flows).Select(flow => Task.Run(async () =>
        {
            var random = new Random(1_000 + flow);
            for (var iteration = 0; iteration < IterationsPerFlow / 2; iteration++)
            {
                Assert.Null(Budget.Current);
                var options = random.Next(2) == 0 ? clamp : strict;
                var chain = new List<Budget>();
                try
                {
                    chain.Add(Budget.Start("root", TimeSpan.FromMilliseconds(random.Next(0, 2_000)), options));
                    Interlocked.Increment(ref opened);
                    var depth = random.Next(0, 6);
                    for (var level = 0; level < depth; level++)
                    {
                        var parent = chain[^1];
                        var timeout = random.Next(5) switch
                        {
                            0 => TimeSpan.Zero,
                            1 => Timeout.InfiniteTimeSpan,
                            2 => TimeSpan.FromMinutes(5), // larger than any root: clamped, or thrown in Strict
                            _ => TimeSpan.FromMilliseconds(random.Next(1, 500)),
                        };
                        try
                        {
                            chain.Add(parent.Child("l" + level, timeout));
                            Interlocked.Increment(ref opened);
                            Assert.Same(chain[^1], Budget.Current);
                        }
                        catch (BudgetExhaustedException)
                        {
                            Interlocked.Increment(ref exhausted);
                            Assert.True(parent.IsExpired);
                            Assert.Same(parent, Budget.Current);
                        }
                        catch (BudgetMisalignedException)
                        {
                            Interlocked.Increment(ref misaligned);
                            Assert.Same(strict, options);
                            Assert.Same(parent, Budget.Current);
                        }

                        var live = monitor.LiveCount;
                        Assert.True(live >= chain.Count, $"monitor sees {live} live budgets, this flow alone holds {chain.Count}");
                        InterlockedMax(ref maxLive, live);
                        await Task.Yield();
                        Assert.Same(chain[^1], Budget.Current);
                    }
                }
                finally
                {
                    for (var i = chain.Count - 1; i >= 0; i--)
                    {
                        chain[i].Dispose();
                    }
                }

                Assert.Null(Budget.Current);
            }
        })).ToArray();

        try
        {
            await Task.WhenAll(flows).WaitAsync(WaitLimit);
        }
        finally
        {
            await stop.CancelAsync();
            await clock.WaitAsync(WaitLimit);
        }

        Assert.Null(Budget.Current);
        Assert.Equal(0, monitor.LiveCount);
        Assert.Equal(0, monitor.Untracked);
        Assert.Empty(monitor.GetOverdue());
        Assert.Equal(0, monitor.OrphanCount);
        Assert.True(Volatile.Read(ref maxLive) > 1, "the monitor never saw more than one live budget: nothing ran concurrently");
        Assert.True(Interlocked.Read(ref opened) >= Flows * IterationsPerFlow / 2);
        Assert.True(Interlocked.Read(ref exhausted) > 0, "no child was ever refused for an expired parent: the clock never moved under the flows");
        Assert.True(Interlocked.Read(ref misaligned) > 0, "Strict never refused a child");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
