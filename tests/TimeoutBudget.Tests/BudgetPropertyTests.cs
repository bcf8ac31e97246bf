using System.Globalization;
using System.Text;
using CsCheck;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// Property-based tests over randomly generated budget trees: random depth (up to 6), random requested timeouts (zero,
/// absolute, larger than the parent, exactly what fits and one tick either side of it, infinite), random reserves,
/// random margin policies and random fake-clock advances between openings.
/// </summary>
/// <remarks>
/// Every sample runs on its own <see cref="FakeTimeProvider"/>: nothing sleeps, nothing depends on the machine's speed.
/// Every budget a sample opens is disposed in reverse order (checked, then again in a <c>finally</c>), and
/// <see cref="Budget.Current"/> must be null before and after each sample. A failing sample prints the CsCheck seed and
/// the tree; pass <c>seed: "…"</c> to <c>Sample</c> to replay it.
/// <para>
/// The oracles are the invariants a user relies on, checked against what is observed on the fake clock (deadlines, token
/// state, what a child was granted): they never call the implementation's own formulas (<see cref="BudgetMargin.For"/>,
/// Available − margin, the reserve and clamp rules). The margin a child must leave is derived from the policy the sample
/// configured and its documented meaning (<see cref="MarginSpec.DocumentedMinimum"/>), with one tick of rounding slack.
/// </para>
/// </remarks>
public sealed class BudgetPropertyTests
{
    private const int Iterations = 300;

    private static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    internal enum RequestKind
    {
        Milliseconds,
        Zero,
        Infinite,
        MaxValue,
        ScaledRemaining,
        ExactlyAvailable,
        AvailablePlusTick,
        AvailableMinusTick,
    }

    internal enum MarginKind
    {
        Default,
        Fraction,
        Absolute,
        None,
    }

    internal enum Outcome
    {
        Skipped,
        Opened,
        Exhausted,
        Misaligned,
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Properties
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// The documented contract, over every opening: a child's deadline (both <see cref="Budget.DeadlineTimestamp"/> and
    /// <see cref="Budget.Deadline"/>) is never later than its parent's deadline minus the parent's reserve minus the margin
    /// that applied, and with a positive margin it is strictly earlier than the parent's deadline.
    /// </summary>
    /// <remarks>
    /// This property caught a child opened while its parent is inside its reserve tail (Remaining &lt; Reserve, not yet
    /// expired) getting Deadline = the instant it was opened (OpenChild's former <c>Math.Max(now, …)</c>), later than
    /// parent.Deadline − parent.Reserve. Minimal case: root 100 ms with options Reserve 50 ms, advance 60 ms,
    /// root.Child("c", 10 ms) → child deadline at +60 ms, bound +50 ms. The next test checks every other opening on its
    /// own, so that this degenerate case cannot mask another violation while shrinking.
    /// </remarks>
    [Fact]
    public void Child_deadline_is_never_later_than_parent_deadline_minus_reserve_and_margin()
    {
        var opened = 0L;
        Trees.Sample(spec =>
        {
            var run = Execute(spec, spec.Mode, observe: null);
            foreach (var node in run.Opened)
            {
                if (node.Parent is { } parent)
                {
                    AssertWithinParentWindow(node, parent);
                    Interlocked.Increment(ref opened);
                }
            }
        }, iter: Iterations, print: Describe);

        Assert.True(Interlocked.Read(ref opened) > Iterations, $"too few children were opened ({opened}) for the property to mean anything");
    }

    /// <summary>
    /// The same contract restricted to openings where the parent still had a usable window (its remaining time exceeded its
    /// reserve). Kept separate so that the degenerate case covered above (a child opened inside the parent's reserve tail)
    /// cannot hide any other violation while shrinking.
    /// </summary>
    [Fact]
    public void Child_deadline_is_within_parent_window_when_the_parent_has_a_usable_window()
    {
        var checkedCount = 0L;
        var positiveMargin = 0L;
        Trees.Sample(spec =>
        {
            var run = Execute(spec, spec.Mode, observe: null);
            foreach (var node in run.Opened)
            {
                if (node.Parent is { } parent && node.ParentWindow > TimeSpan.Zero)
                {
                    AssertWithinParentWindow(node, parent);
                    Interlocked.Increment(ref checkedCount);
                    if (node.Margin > TimeSpan.Zero)
                    {
                        Interlocked.Increment(ref positiveMargin);
                    }
                }
            }
        }, iter: Iterations, print: Describe);

        Assert.True(Interlocked.Read(ref checkedCount) > Iterations, $"too few children were checked ({checkedCount})");
        Assert.True(Interlocked.Read(ref positiveMargin) > 0, "no child was opened with a positive margin");
    }

    /// <summary>
    /// A child's token never fires after its parent's: at every instant of a step-by-step fake clock (between openings,
    /// random steps afterwards, then one tick before and exactly at every deadline in the tree), whenever any ancestor's
    /// token is cancelled, so is the descendant's. Some budgets get a caller token that is cancelled between the random
    /// steps, so ancestors also cancel for reasons other than the clock (a child's own earlier deadline would otherwise
    /// always mask a missing parent link). A token is cancelled no later than its own deadline (once the clock is at or past
    /// it), and never before it unless a caller on its path cancelled.
    /// </summary>
    [Fact]
    public void Child_token_never_fires_after_its_parent_and_fires_at_its_own_deadline()
    {
        var expiries = 0L;
        var callerCascades = 0L;
        Trees.Sample(spec =>
        {
            Execute(spec, spec.Mode, observe: run =>
            {
                var now = run.Time.GetTimestamp();
                foreach (var node in run.Opened)
                {
                    var budget = node.Budget!;
                    var cancelled = budget.Token.IsCancellationRequested;
                    for (var ancestor = node.Parent; ancestor is not null; ancestor = ancestor.Parent)
                    {
                        if (ancestor.Budget!.Token.IsCancellationRequested)
                        {
                            Assert.True(cancelled, $"{budget.Path}: its ancestor {ancestor.Budget.Path} is cancelled but it is not (now {now}, deadline {budget.DeadlineTimestamp}, ancestor deadline {ancestor.Budget.DeadlineTimestamp})");
                        }
                    }

                    if (node.CallerCancelledOnPath())
                    {
                        Assert.True(cancelled, $"{budget.Path}: a caller on its path cancelled but its token has not fired");
                        Interlocked.Increment(ref callerCascades);
                    }

                    // The same promise by the public, wall-clock Deadline a user reads: before it, the token has not
                    // fired (unless a caller cancelled); at or after it, it has.
                    var utcNow = run.Time.GetUtcNow();
                    if (utcNow >= budget.Deadline)
                    {
                        Assert.True(cancelled, $"{budget.Path}: the clock ({utcNow:O}) is at or past its Deadline ({budget.Deadline:O}) but its token has not fired");
                    }
                    else if (!node.CallerCancelledOnPath())
                    {
                        Assert.False(cancelled, $"{budget.Path}: token fired at {utcNow:O}, before its Deadline {budget.Deadline:O}, with no caller cancelled on its path");
                    }

                    if (now >= budget.DeadlineTimestamp)
                    {
                        Assert.True(cancelled, $"{budget.Path}: the clock ({now}) is at or past its deadline ({budget.DeadlineTimestamp}) but its token has not fired");
                        Assert.True(budget.IsExpired, $"{budget.Path}: past its deadline but not IsExpired");
                        Interlocked.Increment(ref expiries);
                    }
                    else
                    {
                        Assert.False(budget.IsExpired, $"{budget.Path}: IsExpired before its deadline");
                        if (!node.CallerCancelledOnPath())
                        {
                            Assert.False(cancelled, $"{budget.Path}: token fired at {now}, before its deadline {budget.DeadlineTimestamp}, with no caller cancelled on its path");
                        }
                    }
                }
            });
        }, iter: Iterations, print: Describe);

        Assert.True(Interlocked.Read(ref expiries) > 0, "no budget ever expired: the clock stepping does not reach the deadlines");
        Assert.True(Interlocked.Read(ref callerCascades) > 0, "no caller ever cancelled: the parent-to-child propagation was never exercised");
    }

    /// <summary>
    /// <see cref="Budget.Remaining"/> never increases as the fake clock advances, and always equals the time to the deadline
    /// (zero once passed). <see cref="Budget.Available"/> never increases either and never exceeds Remaining.
    /// </summary>
    [Fact]
    public void Remaining_never_increases_as_the_clock_advances()
    {
        var samples = 0L;
        Trees.Sample(spec =>
        {
            var last = new Dictionary<Budget, (TimeSpan Remaining, TimeSpan Available)>(ReferenceEqualityComparer.Instance);
            Execute(spec, spec.Mode, observe: run =>
            {
                var now = run.Time.GetTimestamp();
                foreach (var node in run.Opened)
                {
                    var budget = node.Budget!;
                    var remaining = budget.Remaining;
                    var available = budget.Available;
                    var expected = now >= budget.DeadlineTimestamp ? TimeSpan.Zero : TimeSpan.FromTicks(budget.DeadlineTimestamp - now);
                    Assert.Equal(expected, remaining);
                    Assert.True(available >= TimeSpan.Zero && available <= remaining, $"{budget.Path}: Available {available} outside [0, Remaining {remaining}]");
                    if (last.TryGetValue(budget, out var before))
                    {
                        Assert.True(remaining <= before.Remaining, $"{budget.Path}: Remaining grew from {before.Remaining} to {remaining}");
                        Assert.True(available <= before.Available, $"{budget.Path}: Available grew from {before.Available} to {available}");
                    }

                    last[budget] = (remaining, available);
                    Interlocked.Increment(ref samples);
                }
            });
        }, iter: Iterations, print: Describe);

        Assert.True(Interlocked.Read(ref samples) > Iterations * 10, $"too few Remaining samples ({samples})");
    }

    /// <summary>
    /// Clamp and Strict agree wherever the child fits. The same tree is opened twice on two identical fake clocks, once per
    /// mode. Where Strict opens a child, Clamp opens one with the same Requested, Allotted, Reserve, Deadline and
    /// DeadlineTimestamp. Where Strict throws <see cref="BudgetMisalignedException"/>, Clamp grants exactly the parent's
    /// <see cref="Budget.Available"/> at that instant, which is less than what was requested (and is what the exception
    /// reports as available). Where Strict reports an exhausted parent, so does Clamp.
    /// </summary>
    [Fact]
    public void Clamp_and_strict_agree_wherever_the_child_fits()
    {
        var fits = 0L;
        var misfits = 0L;
        Trees.Sample(spec =>
        {
            var strict = Execute(spec, BudgetMode.Strict, observe: null);
            var clamp = Execute(spec, BudgetMode.Clamp, observe: null);
            Assert.Equal(strict.Records.Length, clamp.Records.Length);
            for (var id = 0; id < strict.Records.Length; id++)
            {
                var s = strict.Records[id];
                var c = clamp.Records[id];
                switch (s.Outcome)
                {
                    case Outcome.Opened:
                        Assert.Equal(Outcome.Opened, c.Outcome);
                        Assert.Equal(s.Argument, c.Argument);
                        Assert.Equal(s.Budget!.Requested, c.Budget!.Requested);
                        Assert.Equal(s.Budget.Allotted, c.Budget.Allotted);
                        Assert.Equal(s.Budget.Reserve, c.Budget.Reserve);
                        Assert.Equal(s.Budget.Deadline, c.Budget.Deadline);
                        Assert.Equal(s.Budget.DeadlineTimestamp, c.Budget.DeadlineTimestamp);
                        if (id > 0)
                        {
                            Interlocked.Increment(ref fits);
                        }

                        break;
                    case Outcome.Misaligned:
                        Assert.Equal(Outcome.Opened, c.Outcome);
                        Assert.Equal(s.Argument, c.Argument);
                        Assert.Equal(c.ParentAvailable, c.Budget!.Allotted);
                        Assert.True(c.Budget.Allotted < c.Budget.Requested, $"{c.Budget.Path}: clamped to {c.Budget.Allotted}, not less than requested {c.Budget.Requested}");
                        Assert.Equal(c.Argument, c.Budget.Requested);
                        var exception = Assert.IsType<BudgetMisalignedException>(s.Error);
                        Assert.Equal(c.Budget.Allotted, exception.Available);
                        Assert.Equal(s.Argument, exception.Requested);
                        Interlocked.Increment(ref misfits);
                        break;
                    case Outcome.Exhausted:
                        Assert.Equal(Outcome.Exhausted, c.Outcome);
                        break;
                    case Outcome.Skipped:
                        break;
                }
            }
        }, iter: Iterations, print: Describe);

        Assert.True(Interlocked.Read(ref fits) > 0, "Strict never opened a child: the comparison never ran");
        Assert.True(Interlocked.Read(ref misfits) > 0, "Strict never threw: the clamping branch never ran");
    }

    /// <summary>
    /// Disposal: budgets disposed in reverse order of opening restore <see cref="Budget.Current"/> one step at a time
    /// (checked inside <see cref="Execute"/>), the monitor tracks exactly the opened budgets while they are open and none
    /// afterwards, and Current is null at the end of every sample.
    /// </summary>
    [Fact]
    public void Every_budget_is_disposed_and_current_is_restored_after_each_sample()
    {
        var total = 0L;
        Trees.Sample(spec =>
        {
            Assert.Null(Budget.Current);
            var run = Execute(spec, spec.Mode, observe: r => Assert.Equal(r.Opened.Count, r.Monitor.LiveCount));
            Assert.Null(Budget.Current);
            Assert.Equal(0, run.Monitor.LiveCount);
            Assert.All(run.Opened, node => Assert.True(node.Budget!.IsDisposed, $"{node.Budget.Path} was not disposed"));
            Interlocked.Add(ref total, run.Opened.Count);
        }, iter: Iterations, print: Describe);

        Assert.True(Interlocked.Read(ref total) > Iterations, $"too few budgets were opened ({total})");
    }

    /// <summary>
    /// Whatever a caller passes can only shorten a budget, never lengthen it. For a random maximum and a random incoming
    /// allowance (none, negative, zero, any length, <see cref="TimeSpan.MaxValue"/>, or an absolute deadline in the past
    /// or the future, as a header would carry), the root opened from it ends no later than the root opened from the
    /// maximum alone, and no later than the incoming deadline. A child asking for a random timeout ends no later than its
    /// sibling asking for everything (opened at the same instant), and no later than its own timeout. A caller token
    /// cancelled at a random instant ends the budget then, and leaves its <see cref="Budget.Deadline"/> where it was.
    /// Everything is observed on a fake clock; nothing recomputes the implementation's formulas.
    /// </summary>
    [Fact]
    public void Whatever_a_caller_passes_can_only_shorten_the_budget()
    {
        var shortened = 0L;
        var gen =
            from maximumMs in Gen.Int[1, 20_000]
            from incomingKind in Gen.Int[0, 6]
            from incomingMs in Gen.Int[0, 40_000]
            from childMs in Gen.Frequency((4, Gen.Int[0, 40_000]), (1, Gen.Const(-1)))
            from cancelAfterMs in Gen.Frequency((2, Gen.Const(-1)), (1, Gen.Int[0, 40_000]))
            select (maximumMs, incomingKind, incomingMs, childMs, cancelAfterMs);
        gen.Sample(c =>
        {
            Assert.Null(Budget.Current);
            var time = new FakeTimeProvider(Epoch);
            var options = new BudgetOptions { TimeProvider = time };
            var maximum = TimeSpan.FromMilliseconds(c.maximumMs);
            var incoming = TimeSpan.FromMilliseconds(c.incomingMs);
            var start = time.GetUtcNow();

            DateTimeOffset baseline;
            using (var alone = Budget.Start("alone", maximum, options))
            {
                baseline = alone.Deadline;
            }

            DateTimeOffset? incomingDeadline = null;
            using var caller = new CancellationTokenSource();
            Budget root;
            switch (c.incomingKind)
            {
                case 0: root = Budget.FromRemaining("root", null, maximum, options, caller.Token); break;
                case 1: root = Budget.FromRemaining("root", -incoming - TimeSpan.FromTicks(1), maximum, options, caller.Token); incomingDeadline = start; break;
                case 2: root = Budget.FromRemaining("root", incoming, maximum, options, caller.Token); incomingDeadline = start + incoming; break;
                case 3: root = Budget.FromRemaining("root", TimeSpan.MaxValue, maximum, options, caller.Token); break;
                case 4: root = Budget.FromDeadline("root", start - incoming, maximum, options, caller.Token); incomingDeadline = start; break;
                case 5: root = Budget.FromDeadline("root", start + incoming, maximum, options, caller.Token); incomingDeadline = start + incoming; break;
                default: root = Budget.FromDeadline("root", null, maximum, options, caller.Token); break;
            }

            try
            {
                var rootDeadline = root.Deadline;
                Assert.True(rootDeadline <= baseline, $"the incoming allowance lengthened the budget: {rootDeadline:O} > {baseline:O} (maximum alone)");
                if (incomingDeadline is { } d)
                {
                    Assert.True(rootDeadline <= d, $"the budget outlives the caller's deadline: {rootDeadline:O} > {d:O}");
                }

                if (rootDeadline < baseline)
                {
                    Interlocked.Increment(ref shortened);
                }

                if (rootDeadline <= time.GetUtcNow())
                {
                    Assert.True(root.Token.IsCancellationRequested && root.IsExpired, "a budget whose deadline has passed is not expired");
                    return;
                }

                using var everything = root.Child("everything", Timeout.InfiniteTimeSpan);
                var asked = c.childMs < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(c.childMs);
                using var child = root.Child("child", asked);
                Assert.True(child.Deadline <= everything.Deadline, $"asking for {asked} lengthened the child: {child.Deadline:O} > {everything.Deadline:O}");
                Assert.True(child.Deadline < rootDeadline || child.Deadline <= time.GetUtcNow(), $"child {child.Deadline:O} not before its parent {rootDeadline:O}");
                if (asked != Timeout.InfiniteTimeSpan)
                {
                    Assert.True(child.Deadline <= start + asked, $"child asked for {asked} but ends at {child.Deadline:O}");
                }

                var childDeadline = child.Deadline;
                if (c.cancelAfterMs >= 0)
                {
                    time.Advance(TimeSpan.FromMilliseconds(c.cancelAfterMs));
                    var wasCancelled = child.Token.IsCancellationRequested;
                    caller.Cancel();
                    Assert.True(root.Token.IsCancellationRequested && child.Token.IsCancellationRequested, "the caller cancelled but the budgets go on");
                    Assert.Equal(childDeadline, child.Deadline);
                    Assert.Equal(rootDeadline, root.Deadline);
                    if (!wasCancelled)
                    {
                        Assert.True(time.GetUtcNow() < childDeadline, "the child's token had not fired although its deadline passed");
                    }
                }
                else if (childDeadline <= time.GetUtcNow())
                {
                    // Opened with nothing left (its parent's margin took it all): it is over from the start.
                    Assert.True(child.IsExpired, "a child opened with no time left is not expired");
                }
                else
                {
                    time.Advance(childDeadline - time.GetUtcNow() - TimeSpan.FromTicks(1));
                    Assert.False(child.Token.IsCancellationRequested, "the child's token fired a tick before its Deadline");
                    time.Advance(TimeSpan.FromTicks(1));
                    Assert.True(child.Token.IsCancellationRequested, "the child's token had not fired at its Deadline");
                }
            }
            finally
            {
                root.Dispose();
            }

            Assert.Null(Budget.Current);
        }, iter: Iterations);

        Assert.True(Interlocked.Read(ref shortened) > 0, "no incoming allowance ever shortened the budget: the property never ran its interesting branch");
    }

    private static void AssertWithinParentWindow(Node node, Node parent)
    {
        var child = node.Budget!;
        var p = parent.Budget!;
        var deduction = p.Reserve + node.Margin;
        var latestTimestamp = p.DeadlineTimestamp - deduction.Ticks;
        var latestDeadline = p.Deadline - deduction;
        var context = $"{child.Path}: opened at {node.OpenedAt} (parent remaining {node.ParentRemaining}, reserve {p.Reserve}, window {node.ParentWindow}, margin {node.Margin}, asked {node.Argument}); " +
                      $"deadline {child.DeadlineTimestamp} ({child.Deadline:O}), parent deadline {p.DeadlineTimestamp} ({p.Deadline:O}), latest allowed {latestTimestamp} ({latestDeadline:O})";
        Assert.True(child.DeadlineTimestamp <= latestTimestamp, "DeadlineTimestamp too late. " + context);
        Assert.True(child.Deadline <= latestDeadline, "Deadline too late. " + context);
        if (node.Margin > TimeSpan.Zero)
        {
            Assert.True(child.DeadlineTimestamp < p.DeadlineTimestamp, "positive margin but DeadlineTimestamp not strictly earlier. " + context);
            Assert.True(child.Deadline < p.Deadline, "positive margin but Deadline not strictly earlier. " + context);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Harness
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Opens the tree depth-first on a fresh fake clock: before each node the clock advances by the node's step (even when
    /// the node is skipped, so that a Strict run and a Clamp run of the same tree see the same clock). After the tree is
    /// open the clock takes the spec's random steps, then stops one tick before and exactly at every deadline in the tree.
    /// <paramref name="observe"/> runs after every clock change and every opening. Everything is then disposed in reverse.
    /// </summary>
    private static Run Execute(TreeSpec spec, BudgetMode mode, Action<Run>? observe)
    {
        Assert.Null(Budget.Current);
        var time = new FakeTimeProvider(Epoch);
        Assert.Equal(TimeSpan.TicksPerSecond, time.TimestampFrequency);
        var monitor = new BudgetMonitor(time);
        var options = new BudgetOptions
        {
            TimeProvider = time,
            Mode = mode,
            Margin = spec.Margin.ToMargin(),
            Reserve = TimeSpan.FromMilliseconds(spec.OptionsReserveMs),
            Monitor = monitor,
        };
        var run = new Run(time, monitor, new Record[1 + CountNodes(spec.Children)], spec.Margin);

        try
        {
            var rootTimeout = spec.RootTimeout.Kind switch
            {
                RequestKind.Zero => TimeSpan.Zero,
                RequestKind.Infinite => Timeout.InfiniteTimeSpan,
                _ => TimeSpan.FromMilliseconds(spec.RootTimeout.Value),
            };
            var rootCaller = spec.RootCancelAt >= 0 ? new CancellationTokenSource() : null;
            var root = Budget.Start("root", rootTimeout, options, rootCaller?.Token ?? CancellationToken.None);
            var rootNode = new Node(root, null, time.GetTimestamp(), rootTimeout, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero)
            {
                Caller = rootCaller,
                CancelAt = spec.RootCancelAt,
            };
            run.Opened.Add(rootNode);
            run.Records[0] = new Record(Outcome.Opened, rootTimeout, TimeSpan.Zero, root, null);
            Assert.Same(root, Budget.Current);
            observe?.Invoke(run);

            var nextId = 1;
            foreach (var child in spec.Children)
            {
                Visit(run, rootNode, child, ref nextId, observe);
            }

            for (var i = 0; i <= spec.Steps.Length; i++)
            {
                var last = i == spec.Steps.Length;
                var cancelled = false;
                foreach (var node in run.Opened)
                {
                    if (node.Caller is { } caller && (node.CancelAt == i || (last && node.CancelAt > i)))
                    {
                        caller.Cancel();
                        cancelled = true;
                    }
                }

                if (cancelled)
                {
                    observe?.Invoke(run);
                }

                if (!last)
                {
                    time.Advance(TimeSpan.FromTicks(spec.Steps[i]));
                    observe?.Invoke(run);
                }
            }

            foreach (var deadline in run.Opened.Select(n => n.Budget!.DeadlineTimestamp).Distinct().Order())
            {
                foreach (var target in new[] { deadline - 1, deadline })
                {
                    var now = time.GetTimestamp();
                    if (target > now)
                    {
                        time.Advance(TimeSpan.FromTicks(target - now));
                        observe?.Invoke(run);
                    }
                }
            }

            time.Advance(TimeSpan.FromMilliseconds(1));
            observe?.Invoke(run);

            Assert.Equal(run.Opened.Count, monitor.LiveCount);

            // Checked disposal, innermost first: each disposal hands Current back to the budget opened just before.
            for (var i = run.Opened.Count - 1; i >= 0; i--)
            {
                Assert.Same(run.Opened[i].Budget, Budget.Current);
                run.Opened[i].Budget!.Dispose();
                Assert.Same(i > 0 ? run.Opened[i - 1].Budget : null, Budget.Current);
            }

            Assert.Equal(0, monitor.LiveCount);
        }
        finally
        {
            for (var i = run.Opened.Count - 1; i >= 0; i--)
            {
                run.Opened[i].Budget!.Dispose();
                run.Opened[i].Caller?.Dispose();
            }
        }

        Assert.Null(Budget.Current);
        return run;
    }

    private static void Visit(Run run, Node? parent, NodeSpec spec, ref int nextId, Action<Run>? observe)
    {
        var id = nextId++;
        if (spec.AdvanceTicks > 0)
        {
            run.Time.Advance(TimeSpan.FromTicks(spec.AdvanceTicks));
            observe?.Invoke(run);
        }

        if (parent is null)
        {
            run.Records[id] = new Record(Outcome.Skipped, TimeSpan.Zero, TimeSpan.Zero, null, null);
            foreach (var grandchild in spec.Children)
            {
                Visit(run, null, grandchild, ref nextId, observe);
            }

            return;
        }

        var p = parent.Budget!;
        var timeout = Resolve(spec.Timeout, p);
        var reserve = TimeSpan.FromTicks(spec.ReserveTicks);

        // Measured on the parent at the instant the child is opened (the clock does not move in between).
        var now = run.Time.GetTimestamp();
        var remaining = p.Remaining;
        var window = remaining - p.Reserve;
        if (window < TimeSpan.Zero)
        {
            window = TimeSpan.Zero;
        }

        // The oracle never asks the implementation how big the margin is: it takes the policy the user configured (the
        // spec) and its documented meaning, with one tick of slack either way for the fraction's rounding.
        var margin = run.Margin.DocumentedMinimum(window);
        var maximumMargin = run.Margin.DocumentedMaximum(window);
        var available = p.Available;
        var expired = p.IsExpired;
        Assert.True(available <= window - margin, $"{p.Path}: Available {available} leaves less than the configured margin {margin} of the window {window}");

        var name = "n" + id.ToString(CultureInfo.InvariantCulture);
        var before = Budget.Current;

        // The generator produces reserves as long as (or longer than) a finite timeout on purpose: Child refuses them, as
        // the plan checker does, whatever state the parent is in, and nothing changes. The child is then opened without one.
        if (reserve > TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan && timeout != TimeSpan.MaxValue && reserve >= timeout)
        {
            var refused = Assert.Throws<ArgumentOutOfRangeException>(() => p.Child(name, timeout, reserve));
            Assert.Equal("reserve", refused.ParamName);
            Assert.Same(before, Budget.Current);
            reserve = TimeSpan.Zero;
        }
        var caller = spec.CancelAt >= 0 ? new CancellationTokenSource() : null;
        Budget? budget = null;
        Exception? error = null;
        try
        {
            budget = caller is not null ? p.Child(name, timeout, reserve, caller.Token)
                : reserve == TimeSpan.Zero ? p.Child(name, timeout)
                : p.Child(name, timeout, reserve);
        }
        catch (Exception exception) when (exception is BudgetExhaustedException or BudgetMisalignedException)
        {
            error = exception;
            caller?.Dispose();
        }

        Node? node = null;
        if (budget is not null)
        {
            node = new Node(budget, parent, now, timeout, remaining, window, margin, available) { Caller = caller, CancelAt = spec.CancelAt };
            run.Opened.Add(node);
            run.Records[id] = new Record(Outcome.Opened, timeout, available, budget, null);
            Assert.Same(budget, Budget.Current);
            Assert.Same(p, budget.Parent);
            Assert.False(expired, $"{budget.Path} was opened under an expired parent");
            // Observed behaviour only: what the child was given is read off its deadline on the fake clock.
            var lifetime = TimeSpan.FromTicks(budget.DeadlineTimestamp - now);
            var wantsAll = timeout == Timeout.InfiniteTimeSpan || timeout == TimeSpan.MaxValue;

            // A caller's timeout can only shorten: the child never lives longer than it asked for.
            if (!wantsAll)
            {
                Assert.True(lifetime <= timeout, $"{budget.Path}: asked for {timeout} but its deadline is {lifetime} away");
                Assert.True(budget.Allotted <= timeout, $"{budget.Path}: asked for {timeout} but was allotted {budget.Allotted}");
            }

            // A timeout that fits with the configured margin to spare is granted in full, not shortened further.
            if (!wantsAll && window > TimeSpan.Zero && timeout <= window - maximumMargin)
            {
                Assert.Equal(timeout, budget.Allotted);
                Assert.Equal(timeout, lifetime);
            }

            // Strict never shortens silently: a child it opens got exactly what it asked for.
            if (!wantsAll && window > TimeSpan.Zero && p.Options.Mode == BudgetMode.Strict)
            {
                Assert.Equal(timeout, lifetime);
            }

            // The reserve the caller asked for is kept when it is shorter than what the child got, and never made up.
            if (reserve > TimeSpan.Zero && reserve < lifetime)
            {
                Assert.Equal(reserve, budget.Reserve);
            }

            Assert.True(budget.Reserve == TimeSpan.Zero || budget.Reserve == reserve, $"{budget.Path}: reserve {budget.Reserve} was never asked for ({reserve})");
            if (window > TimeSpan.Zero)
            {
                Assert.True(budget.DeadlineTimestamp >= now, $"{budget.Path}: deadline before the instant it was opened although the parent had {window} to give");
            }
            else
            {
                // Opened inside the parent's reserve tail (or with nothing left after it): nothing to give, born expired.
                Assert.Equal(TimeSpan.Zero, budget.Allotted);
                Assert.True(budget.IsExpired && budget.Token.IsCancellationRequested, $"{budget.Path}: opened with no window but not born expired");
            }

            Assert.Equal(Epoch + TimeSpan.FromTicks(budget.DeadlineTimestamp - Epoch.UtcTicks), budget.Deadline);
            observe?.Invoke(run);
        }
        else if (error is BudgetExhaustedException)
        {
            run.Records[id] = new Record(Outcome.Exhausted, timeout, available, null, error);
            Assert.True(expired, $"{p.Path}/{name}: BudgetExhaustedException while the parent had {remaining} left");
            Assert.Same(before, Budget.Current);
        }
        else
        {
            run.Records[id] = new Record(Outcome.Misaligned, timeout, available, null, error);
            Assert.Equal(BudgetMode.Strict, p.Options.Mode);
            Assert.False(expired);
            Assert.True(timeout != Timeout.InfiniteTimeSpan && timeout != TimeSpan.MaxValue && timeout > available,
                $"{p.Path}/{name}: misaligned although {timeout} fits in {available}");
            Assert.Same(before, Budget.Current);
        }

        foreach (var grandchild in spec.Children)
        {
            Visit(run, node, grandchild, ref nextId, observe);
        }
    }

    private static TimeSpan Resolve(Request request, Budget parent) => request.Kind switch
    {
        RequestKind.Milliseconds => TimeSpan.FromMilliseconds(request.Value),
        RequestKind.Zero => TimeSpan.Zero,
        RequestKind.Infinite => Timeout.InfiniteTimeSpan,
        RequestKind.MaxValue => TimeSpan.MaxValue,
        RequestKind.ScaledRemaining => TimeSpan.FromTicks(parent.Remaining.Ticks * request.Value / 1000),
        RequestKind.ExactlyAvailable => parent.Available,
        RequestKind.AvailablePlusTick => parent.Available + TimeSpan.FromTicks(1),
        RequestKind.AvailableMinusTick => parent.Available > TimeSpan.Zero ? parent.Available - TimeSpan.FromTicks(1) : TimeSpan.Zero,
        _ => throw new ArgumentOutOfRangeException(nameof(request)),
    };

    private static int CountNodes(NodeSpec[] nodes) => nodes.Sum(n => 1 + CountNodes(n.Children));

    // ---------------------------------------------------------------------------------------------------------------
    // Generators
    // ---------------------------------------------------------------------------------------------------------------

    private static readonly Gen<long> Advance = Gen.Frequency(
        (5, Gen.Const(0L)),
        (1, Gen.Long[1, 10]),
        (4, Gen.Int[1, 100].Select(ms => ms * TimeSpan.TicksPerMillisecond)),
        (2, Gen.Int[100, 5_000].Select(ms => ms * TimeSpan.TicksPerMillisecond)));

    private static readonly Gen<Request> ChildRequest = Gen.Frequency(
        (5, Gen.Int[1, 15_000].Select(ms => new Request(RequestKind.Milliseconds, ms))),
        (1, Gen.Const(new Request(RequestKind.Zero, 0))),
        (2, Gen.Const(new Request(RequestKind.Infinite, 0))),
        (1, Gen.Const(new Request(RequestKind.MaxValue, 0))),
        (3, Gen.Int[0, 3_000].Select(permille => new Request(RequestKind.ScaledRemaining, permille))),
        (1, Gen.Const(new Request(RequestKind.ExactlyAvailable, 0))),
        (1, Gen.Const(new Request(RequestKind.AvailablePlusTick, 0))),
        (1, Gen.Const(new Request(RequestKind.AvailableMinusTick, 0))));

    private static readonly Gen<Request> RootRequest = Gen.Frequency(
        (8, Gen.Int[1, 20_000].Select(ms => new Request(RequestKind.Milliseconds, ms))),
        (1, Gen.Const(new Request(RequestKind.Zero, 0))),
        (1, Gen.Const(new Request(RequestKind.Infinite, 0))));

    private static readonly Gen<long> ChildReserve = Gen.Frequency(
        (5, Gen.Const(0L)),
        (3, Gen.Int[1, 1_000].Select(ms => ms * TimeSpan.TicksPerMillisecond)),
        (1, Gen.Int[1_000, 20_000].Select(ms => ms * TimeSpan.TicksPerMillisecond)));

    private static readonly Gen<MarginSpec> Margins = Gen.Frequency(
        (2, Gen.Const(new MarginSpec(MarginKind.Default, 0, 0))),
        (2, Gen.Select(Gen.Int[0, 500], Gen.Int[0, 50], (permille, floor) => new MarginSpec(MarginKind.Fraction, permille, floor))),
        (2, Gen.Int[0, 500].Select(ms => new MarginSpec(MarginKind.Absolute, 0, ms))),
        (1, Gen.Const(new MarginSpec(MarginKind.None, 0, 0))));

    /// <summary>-1: no caller token; otherwise the caller cancels before that final clock step (past the last: after them all).</summary>
    private static readonly Gen<int> CancelAt = Gen.Frequency((5, Gen.Const(-1)), (1, Gen.Int[0, 13]));

    private static readonly Gen<int> ChildCount = Gen.Frequency((3, Gen.Const(0)), (3, Gen.Const(1)), (3, Gen.Const(2)), (1, Gen.Const(3)));

    /// <summary>NodesOfHeight[h]: a node whose subtree is at most h levels below it.</summary>
    private static readonly Gen<NodeSpec>[] NodesOfHeight = BuildNodeGens(5);

    private static readonly Gen<TreeSpec> Trees =
        from depth in Gen.Int[1, 6]
        from rootTimeout in RootRequest
        from optionsReserve in Gen.Frequency((3, Gen.Const(0)), (2, Gen.Int[1, 2_000]))
        from margin in Margins
        from mode in Gen.Frequency((3, Gen.Const(BudgetMode.Clamp)), (1, Gen.Const(BudgetMode.Strict)))
        from rootCancelAt in CancelAt
        from count in Gen.Int[1, 3]
        from children in NodesOfHeight[depth - 1].Array[count]
        from steps in Advance.Array[0, 12]
        select new TreeSpec(rootTimeout, optionsReserve, margin, mode, rootCancelAt, children, steps);

    private static Gen<NodeSpec>[] BuildNodeGens(int maxHeight)
    {
        var gens = new Gen<NodeSpec>[maxHeight + 1];
        gens[0] = Gen.Select(ChildRequest, ChildReserve, Advance, CancelAt, (t, r, a, c) => new NodeSpec(t, r, a, c, []));
        for (var h = 1; h <= maxHeight; h++)
        {
            var below = gens[h - 1];
            gens[h] =
                from timeout in ChildRequest
                from reserve in ChildReserve
                from advance in Advance
                from cancelAt in CancelAt
                from count in ChildCount
                from children in below.Array[count]
                select new NodeSpec(timeout, reserve, advance, cancelAt, children);
        }

        return gens;
    }

    private static string Describe(TreeSpec spec)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"mode {spec.Mode}, margin {spec.Margin}, options reserve {spec.OptionsReserveMs} ms, root {spec.RootTimeout}{Cancel(spec.RootCancelAt)}");
        var id = 1;
        foreach (var child in spec.Children)
        {
            Append(child, 1, ref id);
        }

        text.Append(CultureInfo.InvariantCulture, $"\n  then steps [{string.Join(", ", spec.Steps.Select(Ticks))}]");
        return text.ToString();

        void Append(NodeSpec node, int level, ref int nextId)
        {
            text.Append('\n').Append(' ', 2 * level)
                .Append(CultureInfo.InvariantCulture, $"n{nextId++}: advance {Ticks(node.AdvanceTicks)}, timeout {node.Timeout}, reserve {Ticks(node.ReserveTicks)}{Cancel(node.CancelAt)}");
            foreach (var child in node.Children)
            {
                Append(child, level + 1, ref nextId);
            }
        }
    }

    private static string Cancel(int at) => at < 0 ? string.Empty : $", caller cancels before step {at}";

    private static string Ticks(long ticks) => ticks % TimeSpan.TicksPerMillisecond == 0
        ? (ticks / TimeSpan.TicksPerMillisecond).ToString(CultureInfo.InvariantCulture) + "ms"
        : ticks.ToString(CultureInfo.InvariantCulture) + "t";

    // ---------------------------------------------------------------------------------------------------------------
    // Model
    // ---------------------------------------------------------------------------------------------------------------

    internal readonly record struct Request(RequestKind Kind, int Value)
    {
        public override string ToString() => Kind switch
        {
            RequestKind.Milliseconds => Value.ToString(CultureInfo.InvariantCulture) + "ms",
            RequestKind.ScaledRemaining => $"{Value / 10.0:0.#}% of parent remaining",
            _ => Kind.ToString(),
        };
    }

    internal readonly record struct MarginSpec(MarginKind Kind, int Permille, int Milliseconds)
    {
        public BudgetMargin ToMargin() => Kind switch
        {
            MarginKind.Default => BudgetMargin.Default,
            MarginKind.Fraction => BudgetMargin.Fraction(Permille / 1000.0, TimeSpan.FromMilliseconds(Milliseconds)),
            MarginKind.Absolute => BudgetMargin.Absolute(TimeSpan.FromMilliseconds(Milliseconds)),
            _ => BudgetMargin.None,
        };

        /// <summary>
        /// The least a child must leave unused at the end of a parent window, from the policy's documented meaning
        /// (a fraction of the window with a floor, or an absolute amount; never more than the window), one tick of
        /// rounding slack below. Deliberately not <see cref="BudgetMargin.For"/>.
        /// </summary>
        public TimeSpan DocumentedMinimum(TimeSpan window) => Documented(window, -1);

        /// <summary>The most the documented policy can take from a window, one tick of rounding slack above.</summary>
        public TimeSpan DocumentedMaximum(TimeSpan window) => Documented(window, +1);

        private TimeSpan Documented(TimeSpan window, long slack)
        {
            if (window <= TimeSpan.Zero)
            {
                return TimeSpan.Zero;
            }

            var (permille, floorMs) = Kind switch
            {
                MarginKind.Default => (50L, 10L),
                MarginKind.Fraction => (Permille, (long)Milliseconds),
                MarginKind.Absolute => (0L, (long)Milliseconds),
                _ => (0L, 0L),
            };
            var fractional = permille == 0 ? 0 : (long)((decimal)window.Ticks * permille / 1000m) + slack;
            var ticks = Math.Max(Math.Max(fractional, 0), floorMs * TimeSpan.TicksPerMillisecond);
            return TimeSpan.FromTicks(Math.Min(ticks, window.Ticks));
        }

        public override string ToString() => Kind switch
        {
            MarginKind.Fraction => $"Fraction({Permille / 1000.0:0.###}, floor {Milliseconds}ms)",
            MarginKind.Absolute => $"Absolute({Milliseconds}ms)",
            _ => Kind.ToString(),
        };
    }

    internal sealed record NodeSpec(Request Timeout, long ReserveTicks, long AdvanceTicks, int CancelAt, NodeSpec[] Children);

    internal sealed record TreeSpec(Request RootTimeout, int OptionsReserveMs, MarginSpec Margin, BudgetMode Mode, int RootCancelAt, NodeSpec[] Children, long[] Steps);

    /// <summary>An opened budget and what its parent looked like at the instant it was opened.</summary>
    internal sealed record Node(Budget? Budget, Node? Parent, long OpenedAt, TimeSpan Argument, TimeSpan ParentRemaining, TimeSpan ParentWindow, TimeSpan Margin, TimeSpan ParentAvailable)
    {
        /// <summary>The caller's token passed when this budget was opened, if any, and when (before which final step) it is cancelled.</summary>
        public CancellationTokenSource? Caller { get; init; }

        public int CancelAt { get; init; } = -1;

        /// <summary>Whether this budget's caller, or that of any of its ancestors, has cancelled.</summary>
        public bool CallerCancelledOnPath()
        {
            for (var node = this; node is not null; node = node.Parent)
            {
                if (node.Caller is { IsCancellationRequested: true })
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>What happened to one node of the spec (by depth-first id; 0 is the root).</summary>
    internal sealed record Record(Outcome Outcome, TimeSpan Argument, TimeSpan ParentAvailable, Budget? Budget, Exception? Error);

    internal sealed class Run(FakeTimeProvider time, BudgetMonitor monitor, Record[] records, MarginSpec margin)
    {
        /// <summary>The margin policy the user configured, as the oracle's independent source of truth.</summary>
        public MarginSpec Margin { get; } = margin;

        public FakeTimeProvider Time { get; } = time;

        public BudgetMonitor Monitor { get; } = monitor;

        public Record[] Records { get; } = records;

        public List<Node> Opened { get; } = [];
    }
}
