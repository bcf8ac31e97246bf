using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>Issue 13, item 6: the API refuses the same misuse the same way everywhere.</summary>
public sealed class ApiConsistencyTests
{
    private readonly FakeTimeProvider _clock = new();

    private BudgetOptions Options => new() { TimeProvider = _clock };

    [Fact]
    public async Task Work_cannot_start_under_a_disposed_budget_any_more_than_a_child_can()
    {
        var budget = Budget.Start("job", TimeSpan.FromSeconds(10), Options);
        budget.Dispose();
        var ran = false;

        Assert.Throws<ObjectDisposedException>(() => budget.Child("step", TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => budget.RunAsync(_ => { ran = true; return Task.CompletedTask; }));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => budget.RunAsync(_ => { ran = true; return Task.FromResult(1); }));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => budget.TryRunAsync(_ => { ran = true; return Task.FromResult(1); }));
        Assert.Throws<ObjectDisposedException>(() => budget.TryRunAsync((_, _) => { ran = true; return ValueTask.FromResult(1); }, 0));
        Assert.False(ran, "no work may run under a budget whose layer has ended");
    }

    [Fact]
    public void A_null_layer_is_an_ArgumentNullException_for_roots_and_children_alike()
    {
        Assert.Equal("layer", Assert.Throws<ArgumentNullException>(() => Budget.Start(null!, TimeSpan.FromSeconds(1), Options)).ParamName);
        Assert.Equal("layer", Assert.Throws<ArgumentNullException>(() => Budget.FromRemaining(null!, null, TimeSpan.FromSeconds(1), Options)).ParamName);
        using var root = Budget.Start("root", TimeSpan.FromSeconds(10), Options);
        Assert.Equal("layer", Assert.Throws<ArgumentNullException>(() => root.Child(null!, TimeSpan.FromSeconds(1))).ParamName);
        Assert.Equal("layer", Assert.Throws<ArgumentNullException>(() => root.DetachedChild(null!, TimeSpan.FromSeconds(1))).ParamName);
    }

    [Fact]
    public void A_reserve_that_takes_all_of_a_childs_timeout_is_refused_as_the_plan_checker_refuses_it()
    {
        using var root = Budget.Start("root", TimeSpan.FromSeconds(30), Options);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => root.Child("db", TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)));
        Assert.Equal("reserve", error.ParamName);
        Assert.Contains("db: reserve 5 s takes all of its 500 ms", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => root.Child("db", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => root.Child("db", TimeSpan.Zero, TimeSpan.FromTicks(1)));
        Assert.Same(root, Budget.Current);

        // The same rule as BudgetPlan.Validate: the plan for that child is rejected with the same words.
        var plan = BudgetPlan.Create("root", TimeSpan.FromSeconds(30), r => r.Child("db", TimeSpan.FromMilliseconds(500), db => db.WithReserve(TimeSpan.FromSeconds(5))));
        Assert.Contains(plan.Validate(), v => v.Message.Contains("db: reserve 5 s takes all of its 500 ms", StringComparison.Ordinal));

        // Shorter than the timeout is accepted; with an infinite timeout the reserve applies when it is shorter than what the child gets.
        using (var kept = root.Child("cache", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(999)))
        {
            Assert.Equal(TimeSpan.FromMilliseconds(999), kept.Reserve);
        }

        using var open = root.Child("all", Timeout.InfiniteTimeSpan, TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(5), open.Reserve);
    }
}
