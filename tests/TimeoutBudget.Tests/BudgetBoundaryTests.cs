namespace TimeoutBudget.Tests;

/// <summary>Boundaries of the budget arithmetic that mutation testing found unpinned.</summary>
public sealed class BudgetBoundaryTests
{
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = new();

    private BudgetOptions Options(TimeSpan reserve = default) =>
        new() { TimeProvider = _time, Margin = BudgetMargin.None, Reserve = reserve };

    [Fact]
    public void Fits_holds_at_exactly_the_time_available_and_not_a_tick_beyond()
    {
        using var root = Budget.Start("api", TimeSpan.FromSeconds(1), Options());

        Assert.True(root.Fits(TimeSpan.FromSeconds(1)));
        Assert.False(root.Fits(TimeSpan.FromSeconds(1) + TimeSpan.FromTicks(1)));
        Assert.True(root.Fits(TimeSpan.FromMilliseconds(600), TimeSpan.FromMilliseconds(400)));
        Assert.False(root.Fits(TimeSpan.FromMilliseconds(600), TimeSpan.FromMilliseconds(400) + TimeSpan.FromTicks(1)));
        Assert.True(root.Fits(TimeSpan.Zero));
        Assert.False(root.Fits(TimeSpan.FromTicks(-1)));
        Assert.False(root.Fits(TimeSpan.Zero, TimeSpan.FromTicks(-1)));
    }

    [Fact]
    public void A_reserve_is_kept_only_while_it_is_shorter_than_the_allotment()
    {
        using (var kept = Budget.Start("api", TimeSpan.FromSeconds(1), Options(TimeSpan.FromMilliseconds(999))))
        {
            Assert.Equal(TimeSpan.FromMilliseconds(999), kept.Reserve);
            Assert.Equal(TimeSpan.FromMilliseconds(1), kept.Available);
        }

        using (var dropped = Budget.Start("api", TimeSpan.FromSeconds(1), Options(TimeSpan.FromSeconds(1))))
        {
            Assert.Equal(TimeSpan.Zero, dropped.Reserve);
            Assert.Equal(TimeSpan.FromSeconds(1), dropped.Available);
        }

        using var root = Budget.Start("api", TimeSpan.FromSeconds(1), Options());
        using (var child = root.Child("db", TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(499)))
        {
            Assert.Equal(TimeSpan.FromMilliseconds(499), child.Reserve);
        }

        // As long as the timeout: refused (issue 13, item 6), as BudgetPlan.Validate refuses it.
        Assert.Throws<ArgumentOutOfRangeException>(() => root.Child("cache", TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500)));

        // Not shorter than what a clamped child actually gets: dropped.
        using var clamped = root.Child("cache", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5));
        Assert.True(clamped.Allotted < TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.Zero, clamped.Reserve);
    }

    [Fact]
    public void Every_budget_has_a_source_of_its_own()
    {
        using var root = Budget.Start("api", TimeSpan.FromHours(1), Options());
        CancellationToken first;
        using (var child = root.DetachedChild("db", TimeSpan.FromSeconds(1)))
        {
            first = child.Token;
        }

        using (var child = root.DetachedChild("db", TimeSpan.FromSeconds(1)))
        {
            Assert.NotEqual(first, child.Token);
        }
    }
}
