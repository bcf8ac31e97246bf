using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

public sealed class BudgetMonitorTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly BudgetMonitor _monitor;
    private readonly BudgetOptions _options;

    public BudgetMonitorTests()
    {
        _monitor = new BudgetMonitor(_clock);
        _options = new BudgetOptions { TimeProvider = _clock, Monitor = _monitor };
    }

    [Fact]
    public void Work_still_open_past_its_deadline_is_overdue_with_its_path()
    {
        var run = Budget.Start("integrity-run", TimeSpan.FromMinutes(30), _options);
        run.Tag = "run-42";
        var fetch = run.Child("airtable-fetch", TimeSpan.FromMinutes(5));

        Assert.Equal(2, _monitor.LiveCount);
        Assert.Empty(_monitor.GetOverdue());

        _clock.Advance(TimeSpan.FromMinutes(31));
        var overdue = _monitor.GetOverdue();
        Assert.Equal(["integrity-run/airtable-fetch", "integrity-run"], overdue.Select(o => o.Path));
        Assert.Equal(TimeSpan.FromMinutes(26), overdue[0].Overdue);
        Assert.Equal("run-42", overdue[1].Tag);
        Assert.Equal(2, _monitor.OrphanCount);

        fetch.Dispose();
        run.Dispose();
        Assert.Equal(0, _monitor.LiveCount);
        Assert.Equal(0, _monitor.OrphanCount);
        Assert.Equal(2, _monitor.EndedLate);
        Assert.Equal(TimeSpan.FromMinutes(26), _monitor.PostDeadlineTotals["airtable-fetch"]);
        Assert.Equal(TimeSpan.FromMinutes(1), _monitor.PostDeadlineTotals["integrity-run"]);
    }

    [Fact]
    public void A_periodic_sweep_reports_each_stuck_run_once_so_it_can_be_marked_timed_out()
    {
        // Seed 003: runs stuck in "running" forever, with nothing to reap them.
        var statuses = new Dictionary<string, string> { ["run-1"] = "running", ["run-2"] = "running" };
        using var sweeping = _monitor.StartSweeping(TimeSpan.FromMinutes(10), work => statuses[(string)work.Tag!] = "timeout");

        var stuck = Budget.Start("integrity-run", TimeSpan.FromMinutes(30), _options);
        stuck.Tag = "run-1";
        using (var healthy = Budget.Start("integrity-run", TimeSpan.FromMinutes(30), _options))
        {
            healthy.Tag = "run-2";
        }

        statuses["run-2"] = "completed";
        var reported = new List<string>();
        _clock.Advance(TimeSpan.FromMinutes(40));
        Assert.Equal("timeout", statuses["run-1"]);
        Assert.Equal("completed", statuses["run-2"]);

        Assert.Equal(0, _monitor.Sweep(w => reported.Add(w.Path)));
        Assert.Empty(reported);
        stuck.Dispose();
    }

    [Fact]
    public void The_enclosing_deadline_counts_for_a_separate_root_opened_inside_it()
    {
        // Seed 000: the wait gave up at 180 s; the SDK call ran on until 240 s, holding a pool thread.
        var wait = Budget.Start("agent-wait", TimeSpan.FromSeconds(180), _options);
        var sdk = Budget.Start("sdk", TimeSpan.FromSeconds(240), _options);
        _clock.Advance(TimeSpan.FromSeconds(181));
        wait.Dispose();

        var orphan = Assert.Single(_monitor.GetOverdue());
        Assert.Equal("sdk", orphan.Path);
        Assert.Equal(TimeSpan.FromSeconds(1), orphan.Overdue);
        sdk.Dispose();
        Assert.Equal(TimeSpan.FromSeconds(1), _monitor.PostDeadlineTotals["sdk"]);
    }

    [Fact]
    public void A_child_born_expired_in_its_parents_reserve_tail_is_not_late_work()
    {
        using var root = Budget.Start("root", TimeSpan.FromMilliseconds(100), _options with { Reserve = TimeSpan.FromMilliseconds(50) });
        _clock.Advance(TimeSpan.FromMilliseconds(60));
        using (var child = root.Child("child", TimeSpan.FromMilliseconds(10)))
        {
            Assert.True(child.IsExpired);
            Assert.True(child.Deadline <= root.Deadline - root.Reserve);
            Assert.Equal(0, _monitor.OrphanCount);
        }

        Assert.Equal(0, _monitor.EndedLate);
        Assert.False(_monitor.PostDeadlineTotals.ContainsKey("child"));
    }

    [Fact]
    public void The_ledger_is_bounded()
    {
        var small = new BudgetMonitor(_clock, capacity: 2);
        var options = _options with { Monitor = small };
        var budgets = Enumerable.Range(0, 5).Select(i => Budget.Start("b" + i, TimeSpan.FromSeconds(1), options)).ToList();
        Assert.Equal(2, small.LiveCount);
        Assert.Equal(3, small.Untracked);
        budgets.ForEach(b => b.Dispose());
        Assert.Equal(0, small.LiveCount);
    }

    [Fact]
    public void Per_layer_totals_are_bounded()
    {
        for (var i = 0; i < BudgetMonitor.MaxLayers + 10; i++)
        {
            var budget = Budget.Start("layer-" + i, TimeSpan.FromMilliseconds(1), _options);
            _clock.Advance(TimeSpan.FromMilliseconds(2));
            budget.Dispose();
        }

        Assert.True(_monitor.PostDeadlineTotals.Count <= BudgetMonitor.MaxLayers + 1);
        Assert.True(_monitor.PostDeadlineTotals.ContainsKey("(other)"));
    }

    [Fact]
    public void A_throwing_sweep_callback_is_contained()
    {
        var budget = Budget.Start("run", TimeSpan.FromSeconds(1), _options);
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, _monitor.Sweep(_ => throw new InvalidOperationException("store is down")));
        budget.Dispose();
    }

    [Fact]
    public void Bad_arguments_are_rejected_and_a_disposed_monitor_refuses_new_sweeps()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetMonitor(_clock, capacity: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.StartSweeping(TimeSpan.Zero, _ => { }));
        Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.StartSweeping(Timeout.InfiniteTimeSpan, _ => { }));
        _monitor.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _monitor.StartSweeping(TimeSpan.FromSeconds(1), _ => { }));
    }
}
