using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
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

    [Fact]
    public void A_monitor_without_a_clock_uses_the_system_clock()
    {
        var monitor = new BudgetMonitor();
        Assert.Equal(100_000, monitor.Capacity);
        using (var budget = Budget.Start("api", TimeSpan.FromHours(1), new BudgetOptions { Monitor = monitor }))
        {
            Assert.Equal(1, monitor.LiveCount);
            Assert.Equal(0, monitor.OrphanCount);
            Assert.Empty(monitor.GetOverdue());
            Assert.Equal(0, monitor.Sweep());
        }

        Assert.Equal(0, monitor.LiveCount);
        Assert.Equal(0, monitor.EndedLate);
    }

    [Fact]
    public void Bad_arguments_are_refused_naming_the_parameter_and_the_rule()
    {
        var capacity = Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetMonitor(_clock, capacity: -1));
        Assert.Equal("capacity", capacity.ParamName);
        Assert.Contains("The monitor's capacity must be positive.", capacity.Message);
        Assert.Equal(1, new BudgetMonitor(_clock, capacity: 1).Capacity);

        Assert.Equal("onOverdue", Assert.Throws<ArgumentNullException>(() => _monitor.StartSweeping(TimeSpan.FromSeconds(1), null!)).ParamName);

        var interval = Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.StartSweeping(BudgetOptions.MaxTimeoutLimit + TimeSpan.FromTicks(1), _ => { }));
        Assert.Equal("interval", interval.ParamName);
        Assert.Contains("The sweep interval must be positive and at most 49 days.", interval.Message);
        Assert.Equal("interval", Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.StartSweeping(TimeSpan.FromTicks(-1), _ => { })).ParamName);

        using var longest = _monitor.StartSweeping(BudgetOptions.MaxTimeoutLimit, _ => { });
        using var shortest = _monitor.StartSweeping(TimeSpan.FromTicks(1), _ => { });
    }

    [Fact]
    public void Work_at_exactly_its_deadline_is_not_overdue_and_a_tick_later_it_is()
    {
        var budget = Budget.Start("run", TimeSpan.FromSeconds(10), _options);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, _monitor.OrphanCount);
        Assert.Empty(_monitor.GetOverdue());
        Assert.Equal(0, _monitor.Sweep());

        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, _monitor.OrphanCount);
        var overdue = Assert.Single(_monitor.GetOverdue());
        Assert.Equal(TimeSpan.FromTicks(1), overdue.Overdue);
        Assert.Equal("run", overdue.Layer);
        Assert.Equal(budget.Deadline, overdue.Deadline);
        Assert.Equal(1, _monitor.Sweep());
        budget.Dispose();
    }

    [Fact]
    public void Overdue_work_is_listed_most_overdue_first()
    {
        using var root = Budget.Start("root", TimeSpan.FromHours(1), _options);
        var calls = new[] { 4, 1, 6, 3, 5, 2 }.Select(s => root.DetachedChild("call-" + s, TimeSpan.FromSeconds(s))).ToList();
        _clock.Advance(TimeSpan.FromSeconds(10));

        var overdue = _monitor.GetOverdue();
        Assert.Equal(["root/call-1", "root/call-2", "root/call-3", "root/call-4", "root/call-5", "root/call-6"], overdue.Select(o => o.Path));
        Assert.Equal("root/call-1 is 9 s overdue", overdue[0].ToString());
        calls.ForEach(c => c.Dispose());
    }

    [Fact]
    public void A_sweep_refused_by_a_disposed_monitor_never_runs()
    {
        var seen = new List<string>();
        _monitor.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _monitor.StartSweeping(TimeSpan.FromSeconds(10), work => seen.Add(work.Path)));
        var budget = Budget.Start("run", TimeSpan.FromSeconds(5), _options);
        _clock.Advance(TimeSpan.FromSeconds(30));

        Assert.Empty(seen);
        budget.Dispose();
    }

    [Fact]
    public void Work_ending_at_exactly_its_deadline_did_not_end_late()
    {
        var budget = Budget.Start("run", TimeSpan.FromSeconds(10), _options);
        _clock.Advance(TimeSpan.FromSeconds(10));
        budget.Dispose();

        Assert.Equal(0, _monitor.EndedLate);
        Assert.False(_monitor.PostDeadlineTotals.ContainsKey("run"));
        Assert.Equal(0, _monitor.LiveCount);
    }

    [Fact]
    public void Late_time_adds_up_per_layer()
    {
        EndLate("run", TimeSpan.FromSeconds(1));
        EndLate("run", TimeSpan.FromSeconds(2));

        Assert.Equal(TimeSpan.FromSeconds(3), _monitor.PostDeadlineTotals["run"]);
        Assert.Equal(2, _monitor.EndedLate);
    }

    [Fact]
    public void Once_the_layer_table_is_full_known_layers_keep_their_own_totals_and_new_ones_go_to_other()
    {
        for (var i = 0; i < BudgetMonitor.MaxLayers; i++)
        {
            EndLate("layer-" + i, TimeSpan.FromSeconds(1));
        }

        Assert.Equal(BudgetMonitor.MaxLayers, _monitor.PostDeadlineTotals.Count);
        EndLate("layer-0", TimeSpan.FromSeconds(2));
        EndLate("newcomer", TimeSpan.FromSeconds(4));

        var totals = _monitor.PostDeadlineTotals;
        Assert.Equal(TimeSpan.FromSeconds(3), totals["layer-0"]);
        Assert.Equal(TimeSpan.FromSeconds(4), totals["(other)"]);
        Assert.False(totals.ContainsKey("newcomer"));
    }

    [Fact]
    public void A_separate_root_shorter_than_the_budget_around_it_is_late_after_its_own_deadline()
    {
        using var wait = Budget.Start("agent-wait", TimeSpan.FromSeconds(60), _options);
        var sdk = Budget.Start("sdk", TimeSpan.FromSeconds(10), _options);
        _clock.Advance(TimeSpan.FromSeconds(11));

        var orphan = Assert.Single(_monitor.GetOverdue());
        Assert.Equal("sdk", orphan.Path);
        Assert.Equal(TimeSpan.FromSeconds(1), orphan.Overdue);
        sdk.Dispose();
        Assert.Equal(TimeSpan.FromSeconds(1), _monitor.PostDeadlineTotals["sdk"]);
    }

    [Fact]
    public void A_sweep_logs_each_newly_overdue_item_with_its_path_and_how_late_it_is()
    {
        var logs = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        var monitor = new BudgetMonitor(_clock, loggerFactory: factory);
        var budget = Budget.Start("run", TimeSpan.FromSeconds(10), _options with { Monitor = monitor });
        _clock.Advance(TimeSpan.FromSeconds(12));

        Assert.Equal(1, monitor.Sweep());
        Assert.Equal(0, monitor.Sweep());
        var record = Assert.Single(logs.GetSnapshot(), r => r.Message.Contains("past its deadline", StringComparison.Ordinal));
        Assert.Equal("Work under run is 2 s past its deadline and still running", record.Message);
        Assert.Equal(LogLevel.Warning, record.Level);
        budget.Dispose();
    }

    [Fact]
    public void Periodic_sweeps_repeat_until_their_handle_is_disposed()
    {
        var seen = new List<string>();
        var sweeping = _monitor.StartSweeping(TimeSpan.FromSeconds(10), work => seen.Add(work.Path));
        // Opened longest first: each separate root is shorter than the one around it, so its own deadline counts.
        var third = Budget.Start("third", TimeSpan.FromSeconds(25), _options);
        var second = Budget.Start("second", TimeSpan.FromSeconds(15), _options);
        var first = Budget.Start("first", TimeSpan.FromSeconds(5), _options);

        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(["first"], seen);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(["first", "second"], seen);

        sweeping.Dispose();
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(["first", "second"], seen);

        first.Dispose();
        second.Dispose();
        third.Dispose();
    }

    [Fact]
    public void Disposing_the_monitor_stops_its_sweeps()
    {
        var seen = new List<string>();
        _monitor.StartSweeping(TimeSpan.FromSeconds(10), work => seen.Add(work.Path));
        var budget = Budget.Start("run", TimeSpan.FromSeconds(5), _options);
        _monitor.Dispose();
        _clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Empty(seen);
        Assert.Equal(1, _monitor.OrphanCount);
        budget.Dispose();
    }

    [Fact]
    public void The_orphan_gauge_goes_down_when_work_ends_only_if_a_sweep_counted_it()
    {
        var unique = "u" + Guid.NewGuid().ToString("N")[..8];
        var orphans = new List<long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == BudgetTelemetryNames.MeterName && instrument.Name == BudgetTelemetryNames.Orphans)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "layer" && Equals(tag.Value, unique))
                {
                    lock (orphans)
                    {
                        orphans.Add(value);
                    }
                }
            }
        });
        listener.Start();

        var unswept = Budget.Start(unique, TimeSpan.FromSeconds(1), _options);
        _clock.Advance(TimeSpan.FromSeconds(2));
        unswept.Dispose();
        Assert.Empty(orphans);

        var swept = Budget.Start(unique, TimeSpan.FromSeconds(1), _options);
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, _monitor.Sweep());
        swept.Dispose();
        Assert.Equal([1L, -1L], orphans);
    }

    private void EndLate(string layer, TimeSpan late)
    {
        var budget = Budget.Start(layer, TimeSpan.FromSeconds(1), _options);
        _clock.Advance(TimeSpan.FromSeconds(1) + late);
        budget.Dispose();
    }
}
