using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// Disposing an ambient budget goes back to the execution context it was opened in when nothing else on the flow has
/// changed since (no allocation), and writes <see cref="Budget.Current"/> back otherwise: either way every other
/// <see cref="AsyncLocal{T}"/> keeps the value the flow gave it, and Current is the budget it replaced.
/// </summary>
public sealed class AmbientContextTests
{
    private static readonly AsyncLocal<string?> Other = new();

    private readonly BudgetOptions _options = new() { TimeProvider = new FakeTimeProvider() };

    [Fact]
    public void An_async_local_set_inside_the_scope_keeps_its_value_when_the_budget_is_disposed()
    {
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        Other.Value = "before";
        var child = root.Child("dependency", TimeSpan.FromSeconds(1));
        Other.Value = "inside";

        child.Dispose();

        Assert.Same(root, Budget.Current);
        Assert.Equal("inside", Other.Value);
        Other.Value = null;
    }

    [Fact]
    public async Task Across_awaits_dispose_restores_the_parent_and_leaves_other_async_locals_as_they_were()
    {
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        Other.Value = "outer";
        using (var child = root.Child("dependency", TimeSpan.FromSeconds(1)))
        {
            await Task.Yield();
            Assert.Same(child, Budget.Current);
            await SetOtherInNestedMethod();
            Assert.Equal("outer", Other.Value);
        }

        Assert.Same(root, Budget.Current);
        Assert.Equal("outer", Other.Value);
        Other.Value = null;

        static async Task SetOtherInNestedMethod()
        {
            Other.Value = "nested";
            await Task.Yield();
        }
    }

    [Fact]
    public void Budgets_disposed_out_of_order_still_leave_the_innermost_open_one_current()
    {
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        var outer = root.Child("outer", TimeSpan.FromSeconds(20));
        var inner = outer.Child("inner", TimeSpan.FromSeconds(10));

        outer.Dispose();
        Assert.Same(inner, Budget.Current);

        inner.Dispose();
        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public async Task A_budget_disposed_on_another_flow_leaves_this_flow_seeing_its_parent()
    {
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        var child = root.Child("dependency", TimeSpan.FromSeconds(1));
        var onOtherFlow = await Task.Run(() =>
        {
            child.Dispose();
            return Budget.Current;
        });

        Assert.Same(root, onOtherFlow);
        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public void With_the_flow_suppressed_dispose_still_restores_the_previous_budget()
    {
        using var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        using (ExecutionContext.SuppressFlow())
        {
            var child = root.Child("dependency", TimeSpan.FromSeconds(1));
            Assert.Same(child, Budget.Current);
            child.Dispose();
            Assert.Same(root, Budget.Current);
        }

        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public void An_async_local_that_watches_its_changes_sees_none_from_a_budget_opening_and_ending()
    {
        var changes = new List<(string? Previous, string? Current, bool ContextChanged)>();
        var watched = new AsyncLocal<string?>(change => changes.Add((change.PreviousValue, change.CurrentValue, change.ThreadContextChanged)));
        watched.Value = "kept";
        changes.Clear();

        using (var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options))
        {
            root.Child("dependency", TimeSpan.FromSeconds(1)).Dispose();
            Assert.Same(root, Budget.Current);
        }

        Assert.Empty(changes);
        Assert.Equal("kept", watched.Value);
        watched.Value = null;
    }

    [Fact]
    public void A_root_opened_where_nothing_was_current_leaves_nothing_current()
    {
        Assert.Null(Budget.Current);
        var root = Budget.Start("request", TimeSpan.FromMinutes(1), _options);
        Assert.Same(root, Budget.Current);
        root.Dispose();
        Assert.Null(Budget.Current);
    }
}
