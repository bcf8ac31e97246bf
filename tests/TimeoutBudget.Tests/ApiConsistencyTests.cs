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
}
