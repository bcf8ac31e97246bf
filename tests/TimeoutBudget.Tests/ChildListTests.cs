using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// Issue 15: a parent cancels its live children through its own list — no registration on its token per child — in
/// O(1) per child opened or disposed, with the same guarantees the token links gave.
/// </summary>
public sealed class ChildListTests
{
    private readonly FakeTimeProvider _clock = new();

    private BudgetOptions Options => new() { TimeProvider = _clock };

    [Fact]
    public void Children_are_linked_while_open_and_unlinked_when_disposed_in_any_order()
    {
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options);
        var children = Enumerable.Range(0, 4).Select(i => root.DetachedChild("call" + i, TimeSpan.FromSeconds(1))).ToArray();
        Assert.Equal(4, root.LinkedChildCount);

        children[1].Dispose();
        Assert.Equal(3, root.LinkedChildCount);
        children[3].Dispose();
        Assert.Equal(2, root.LinkedChildCount);
        children[0].Dispose();
        children[0].Dispose();
        Assert.Equal(1, root.LinkedChildCount);
        children[2].Dispose();
        Assert.Equal(0, root.LinkedChildCount);
    }

    [Fact]
    public void A_cancelled_parent_cancels_every_live_child_and_grandchild_before_its_own_token_and_skips_disposed_ones()
    {
        using var caller = new CancellationTokenSource();
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options, caller.Token);
        var children = Enumerable.Range(0, 3).Select(i => root.DetachedChild("call" + i, TimeSpan.FromSeconds(5))).ToArray();
        var grandchildren = children.Select(c => c.DetachedChild("inner", TimeSpan.FromSeconds(1))).ToArray();
        var ended = root.DetachedChild("ended", TimeSpan.FromSeconds(5));
        var endedToken = ended.Token;
        ended.Dispose();

        var seenByParentCallback = false;
        using var registration = root.Token.Register(() =>
            seenByParentCallback = children.Concat(grandchildren).All(b => b.Token.IsCancellationRequested));
        caller.Cancel();

        Assert.True(seenByParentCallback, "the parent's token ran its callbacks before its children were cancelled");
        Assert.All(children.Concat(grandchildren), b => Assert.True(b.Token.IsCancellationRequested));
        Assert.False(endedToken.IsCancellationRequested);
        Assert.Equal("request", Assert.Throws<BudgetCancelledException>(grandchildren[2].ThrowIfExpired).Path);
        Assert.Equal(0, root.LinkedChildCount);

        foreach (var budget in grandchildren.Concat(children))
        {
            budget.Dispose();
        }
    }

    [Fact]
    public void An_expiring_parent_attributes_its_childrens_cancellation_to_itself()
    {
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options);
        using var call = root.DetachedChild("call", Timeout.InfiniteTimeSpan);
        using var parentToken = root.Token.Register(static () => { });

        // The child takes whatever fits, so both are due within the same second; the parent's deadline is what passes.
        _clock.Advance(TimeSpan.FromSeconds(10));

        Assert.True(call.Token.IsCancellationRequested);
        Assert.True(root.Token.IsCancellationRequested);
        Assert.Equal("request/call", Assert.Throws<BudgetExhaustedException>(call.ThrowIfExpired).Path);
    }

    [Fact]
    public void A_throwing_callback_on_one_child_does_not_stop_its_siblings_or_the_parent_from_being_cancelled()
    {
        using var caller = new CancellationTokenSource();
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options, caller.Token);
        using var first = root.DetachedChild("first", TimeSpan.FromSeconds(1));
        using var throwing = root.DetachedChild("throwing", TimeSpan.FromSeconds(1));
        using var last = root.DetachedChild("last", TimeSpan.FromSeconds(1));
        using var registration = throwing.Token.Register(static () => throw new InvalidOperationException("callback fault"));
        using var lastRegistration = last.Token.Register(static () => throw new InvalidOperationException("another callback fault"));
        using var rootRegistration = root.Token.Register(static () => throw new InvalidOperationException("parent callback fault"));

        var thrown = Assert.Throws<AggregateException>(caller.Cancel);

        // Every failure is reported, the children's and the parent's own, not only the last one.
        Assert.Equal(["another callback fault", "callback fault", "parent callback fault"], thrown.Flatten().InnerExceptions.Select(e => e.Message).Order(StringComparer.Ordinal));
        Assert.True(first.Token.IsCancellationRequested);
        Assert.True(last.Token.IsCancellationRequested);
        Assert.True(root.Token.IsCancellationRequested);
    }

    [Fact]
    public void A_parent_disposed_cleanly_lets_go_of_its_children_without_cancelling_them()
    {
        var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options);
        using var child = root.DetachedChild("call", TimeSpan.FromSeconds(1));
        root.Dispose();

        Assert.Equal(0, root.LinkedChildCount);
        Assert.False(child.Token.IsCancellationRequested);
        child.Dispose();
        Assert.Equal(0, root.LinkedChildCount);
    }

    [Fact]
    public async Task Children_opened_and_disposed_on_many_threads_while_the_parent_cancels_are_all_cancelled_or_unlinked()
    {
        for (var round = 0; round < 20; round++)
        {
            using var caller = new CancellationTokenSource();
            using var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options, caller.Token);
            using var go = new ManualResetEventSlim();
            var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                var kept = new List<Budget>();
                go.Wait();
                for (var i = 0; i < 200; i++)
                {
                    try
                    {
                        var child = root.DetachedChild("call", TimeSpan.FromSeconds(1));
                        if (i % 2 == 0)
                        {
                            child.Dispose();
                        }
                        else
                        {
                            kept.Add(child);
                        }
                    }
                    catch (BudgetCancelledException)
                    {
                        break;
                    }
                }

                return kept;
            })).ToArray();

            go.Set();
            caller.Cancel();
            var kept = (await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30))).SelectMany(k => k).ToList();

            Assert.All(kept, child => Assert.True(child.Token.IsCancellationRequested, "a child open when its parent cancelled was not cancelled"));
            Assert.Equal(0, root.LinkedChildCount);
            foreach (var child in kept)
            {
                child.Dispose();
            }
        }
    }

    [Fact]
    public async Task Children_still_arriving_when_their_parent_cancels_are_cancelled_before_its_token_while_other_threads_drain()
    {
        // Issue 15, seventh slice: a child joins its parent's list when the scheduler next drains its arrivals, which
        // another thread may do between the parent recording its cause and taking its list. Such a child must still be
        // cancelled with the list, before the parent's token.
        await InRoundsWhileAnotherThreadDrains((root, caller) =>
        {
            var children = Enumerable.Range(0, 100).Select(_ => root.DetachedChild("call", TimeSpan.FromSeconds(60))).ToList();
            var allCancelledFirst = false;
            using var registration = root.Token.Register(() => allCancelledFirst = children.All(child => child.Token.IsCancellationRequested));

            caller.Cancel();

            Assert.True(allCancelledFirst, "the parent's token ran its callbacks before all its children were cancelled");
            children.ForEach(child => child.Dispose());
            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task A_child_opened_as_its_parent_cancels_is_never_handed_out_live_once_the_parent_token_has_cancelled()
    {
        // A parent cancels its children before its own token. A child opened concurrently either joined the list (and
        // was cancelled with it) or arrived after the list was taken (and its own constructor cancelled it): once the
        // parent's token is seen cancelled, no child opened from it is live. Another thread keeps draining meanwhile.
        await InRoundsWhileAnotherThreadDrains(async (root, caller) =>
        {
            using var go = new ManualResetEventSlim();
            var openers = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
            {
                go.Wait();
                var live = 0;
                for (var i = 0; i < 300; i++)
                {
                    try
                    {
                        using var child = root.DetachedChild("call", TimeSpan.FromSeconds(60));
                        if (root.Token.IsCancellationRequested && !child.Token.IsCancellationRequested)
                        {
                            live++;
                        }
                    }
                    catch (BudgetCancelledException)
                    {
                        break;
                    }
                }

                return live;
            })).ToArray();

            go.Set();
            caller.Cancel();
            var live = (await Task.WhenAll(openers).WaitAsync(TimeSpan.FromSeconds(30))).Sum();
            Assert.Equal(0, live);
        });
    }

    [Fact]
    public void A_child_whose_parent_cancels_and_takes_its_list_while_the_child_opens_is_handed_out_cancelled()
    {
        // The misalignment callback runs inside the child's opening, after the parent was checked: cancelling the parent
        // there lets it take its list before the child arrives. The child cannot join it any more; it must not be
        // handed out live.
        using var caller = new CancellationTokenSource();
        var options = Options with { OnMisaligned = _ => caller.Cancel() };
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), options, caller.Token);

        using var child = root.DetachedChild("call", TimeSpan.FromMinutes(1));

        Assert.True(root.Token.IsCancellationRequested);
        Assert.True(child.Token.IsCancellationRequested, "a child opened as its parent cancelled was handed out live");
        Assert.Equal("request", Assert.Throws<BudgetCancelledException>(child.ThrowIfExpired).Path);
    }

    [Fact]
    public void A_child_whose_parent_is_disposed_while_the_child_opens_keeps_its_own_deadline()
    {
        // The misalignment callback runs inside the child's opening, after the parent was checked. A dispose lets go of
        // the list instead of cancelling it: the child joins no list, is not cancelled, and ends at its own deadline.
        Budget? root = null;
        var options = Options with { OnMisaligned = _ => root!.Dispose() };
        root = Budget.Start("request", TimeSpan.FromSeconds(10), options);

        using var child = root.DetachedChild("call", TimeSpan.FromMinutes(1));

        Assert.False(child.Token.IsCancellationRequested, "a parent's dispose cancelled a child opened meanwhile");
        Assert.Equal(0, root.LinkedChildCount);
        _clock.Advance(child.Allotted - TimeSpan.FromTicks(1));
        Assert.False(child.Token.IsCancellationRequested);
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(child.Token.IsCancellationRequested);
        Assert.Equal("request/call", Assert.Throws<BudgetExhaustedException>(child.ThrowIfExpired).Path);
    }

    /// <summary>
    /// Runs 50 rounds, each with a fresh root linked to a fresh caller token, while another thread keeps opening and
    /// disposing children of another budget: every 64th of those drains the scheduler's arrivals, racing the rounds.
    /// </summary>
    private async Task InRoundsWhileAnotherThreadDrains(Func<Budget, CancellationTokenSource, Task> round)
    {
        using var other = Budget.Start("other", TimeSpan.FromMinutes(10), Options);
        using var stop = new CancellationTokenSource();
        var drainer = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                other.DetachedChild("noise", TimeSpan.FromSeconds(30)).Dispose();
            }
        });

        for (var i = 0; i < 50; i++)
        {
            using var caller = new CancellationTokenSource();
            using var root = Budget.Start("request", TimeSpan.FromMinutes(5), Options, caller.Token);
            await round(root, caller);
        }

        await stop.CancelAsync();
        await drainer.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
