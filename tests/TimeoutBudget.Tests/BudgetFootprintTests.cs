using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// What a child costs in bytes (#15): budgets sit on every outbound call, so their size is a property to keep, not an
/// accident. Counted with the runtime's own per-thread allocation counter over many children, so a stray allocation
/// elsewhere cannot hide in rounding.
/// </summary>
public sealed class BudgetFootprintTests
{
    private const int Children = 1_000;

    // The trimmed budget (152 B on 64-bit: 144 before the execution-context field that lets an ambient child's Dispose
    // allocate nothing) and its cancellation source (48 B): nothing else per child.
    private const long BudgetBytes = 152;
    private const long SourceBytes = 48;

    private readonly BudgetOptions _options = new() { TimeProvider = new FakeTimeProvider() };

    [Fact]
    public void A_detached_child_whose_token_is_read_allocates_only_itself_and_its_source()
    {
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        Assert.Equal(BudgetBytes + SourceBytes, BytesPerChild(root, readToken: true));
    }

    [Fact]
    public void A_detached_child_used_through_its_clock_allocates_only_itself()
    {
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        Assert.Equal(BudgetBytes, BytesPerChild(root, readToken: false));
    }

    [Fact]
    public void Disposing_an_ambient_child_allocates_nothing()
    {
        // Making a budget Current writes an AsyncLocal: one new execution context (and value map). Disposing it goes back
        // to the context it was opened in, which allocates nothing; writing the AsyncLocal back cost the same again.
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        root.Child("warm-up", TimeSpan.FromSeconds(1)).Dispose();
        long disposing = 0;
        for (var i = 0; i < Children; i++)
        {
            var child = root.Child("dependency", TimeSpan.FromSeconds(1));
            Assert.Same(child, Budget.Current);
            var before = GC.GetAllocatedBytesForCurrentThread();
            child.Dispose();
            disposing += GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Same(root, Budget.Current);
        }

        Assert.Equal(0, disposing);
    }

    [Fact]
    public void A_child_with_a_reserve_still_reports_it_and_hands_its_children_only_the_time_before_it()
    {
        // The reserve no longer has a field of its own in every budget: the rare budget that has one keeps it apart.
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        using var withReserve = root.Child("orchestrator", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10));
        using var without = root.DetachedChild("plain", TimeSpan.FromSeconds(30));

        Assert.Equal(TimeSpan.FromSeconds(10), withReserve.Reserve);
        Assert.Equal(TimeSpan.Zero, without.Reserve);
        using var grandchild = withReserve.DetachedChild("call", Timeout.InfiniteTimeSpan);
        Assert.True(grandchild.Deadline <= withReserve.Deadline - TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_child_opened_from_a_budget_that_is_not_current_restores_the_one_that_was_when_disposed()
    {
        // Most ambient children are opened from Current and restore their parent, which then needs no field; the others
        // keep what they restore apart, and a disposed budget in between is still skipped.
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        var sibling = root.Child("a", TimeSpan.FromSeconds(20));
        var inner = sibling.Child("b", TimeSpan.FromSeconds(10));
        inner.Dispose();
        Assert.Same(sibling, Budget.Current);

        using (var fromRoot = root.Child("c", TimeSpan.FromSeconds(10)))
        {
            Assert.Same(fromRoot, Budget.Current);
        }

        Assert.Same(sibling, Budget.Current);
        sibling.Dispose();
        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public async Task An_ambient_child_opened_where_nothing_is_current_keeps_no_extra_object_for_what_it_restores()
    {
        // A parent handed to a flow that does not see it as Current (work queued without the execution context): its
        // child restores null, which needs no field, so nothing beyond the budget is allocated for it.
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        var (hadExtras, currentInside, currentAfter) = await OnFlowWithoutContext(() =>
        {
            var child = root.Child("dependency", TimeSpan.FromSeconds(1));
            var inside = Budget.Current;
            child.Dispose();
            return (child.HasExtras, inside == child, Budget.Current);
        });

        Assert.False(hadExtras);
        Assert.True(currentInside);
        Assert.Null(currentAfter);
    }

    private static Task<T> OnFlowWithoutContext<T>(Func<T> work)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return Task.Run(work);
        }
    }

    private static long BytesPerChild(Budget root, bool readToken)
    {
        // Once first, so that JIT-time and first-use allocations (the scheduler's heap) are not counted.
        Open(root, readToken);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Children; i++)
        {
            Open(root, readToken);
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / Children;
    }

    private static void Open(Budget root, bool readToken)
    {
        using var child = root.DetachedChild("dependency", TimeSpan.FromSeconds(1));
        if (readToken)
        {
            Assert.True(child.Token.CanBeCanceled);
        }
        else
        {
            Assert.True(child.Remaining > TimeSpan.Zero);
        }
    }
}
