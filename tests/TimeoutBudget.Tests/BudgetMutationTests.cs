using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>Messages, guards, attribution and boundaries of <see cref="Budget"/> that mutation testing found unpinned.</summary>
public sealed class BudgetMutationTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly List<BudgetMisalignment> _misaligned = [];
    private readonly List<BudgetInversion> _inverted = [];
    private readonly BudgetOptions _options;

    public BudgetMutationTests() =>
        _options = new BudgetOptions { TimeProvider = _clock, OnMisaligned = _misaligned.Add, OnInverted = _inverted.Add };

    // ---- Argument guards and their messages ----

    [Fact]
    public void A_negative_timeout_is_refused_naming_the_parameter_the_layer_and_the_alternatives()
    {
        var rootError = Assert.Throws<ArgumentOutOfRangeException>(() => Budget.Start("api", TimeSpan.FromMilliseconds(-5), _options));
        Assert.Equal("timeout", rootError.ParamName);
        Assert.Contains("The timeout of 'api' is negative (-5 ms)", rootError.Message);
        Assert.Contains("use TimeSpan.Zero for an already-expired budget or Timeout.InfiniteTimeSpan for 'whatever fits'", rootError.Message);
        Assert.Null(Budget.Current);

        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), _options);
        var childError = Assert.Throws<ArgumentOutOfRangeException>(() => root.Child("db", TimeSpan.FromTicks(-1)));
        Assert.Equal("timeout", childError.ParamName);
        Assert.Contains("The timeout of 'db' is negative", childError.Message);

        // Infinite is negative as a TimeSpan but means "whatever fits", for a root and for a child.
        using var all = root.Child("all", Timeout.InfiniteTimeSpan);
        Assert.Equal(TimeSpan.FromSeconds(9.5), all.Allotted);
        Assert.Equal(all.Allotted, all.Requested);
        Assert.Empty(_misaligned);
    }

    [Fact]
    public void A_negative_reserve_is_refused_naming_the_parameter_and_the_layer()
    {
        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), _options);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => root.Child("db", TimeSpan.FromSeconds(1), TimeSpan.FromTicks(-1)));
        Assert.Equal("reserve", error.ParamName);
        Assert.Contains("The reserve of 'db' must not be negative.", error.Message);
        Assert.Same(root, Budget.Current);

        using var child = root.Child("db", TimeSpan.FromSeconds(1), TimeSpan.Zero);
        Assert.Equal(TimeSpan.Zero, child.Reserve);
    }

    [Fact]
    public void The_maximum_of_an_incoming_deadline_must_be_positive_and_finite()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Budget.FromRemaining("server", null, TimeSpan.FromTicks(-1), _options));
        Assert.Equal("maximum", error.ParamName);
        Assert.Contains("The maximum for 'server' must be a positive, finite duration", error.Message);
        Assert.Equal("maximum", Assert.Throws<ArgumentOutOfRangeException>(() => Budget.FromDeadline("server", null, TimeSpan.Zero, _options)).ParamName);

        using var tiny = Budget.FromRemaining("server", null, TimeSpan.FromTicks(1), _options);
        Assert.Equal(TimeSpan.FromTicks(1), tiny.Allotted);
    }

    [Fact]
    public void An_incoming_timeout_is_what_the_caller_asked_for_and_is_granted_up_to_our_maximum()
    {
        var max = TimeSpan.FromSeconds(30);
        using (var shorter = Budget.FromRemaining("server", TimeSpan.FromSeconds(5), max, _options))
        {
            Assert.Equal(TimeSpan.FromSeconds(5), shorter.Requested);
            Assert.Equal(TimeSpan.FromSeconds(5), shorter.Allotted);
            Assert.False(shorter.IsExpired);
        }

        using (var longer = Budget.FromRemaining("server", TimeSpan.FromSeconds(60), max, _options))
        {
            Assert.Equal(TimeSpan.FromSeconds(60), longer.Requested);
            Assert.Equal(max, longer.Allotted);
        }

        using (var none = Budget.FromRemaining("server", null, max, _options))
        {
            Assert.Equal(max, none.Requested);
            Assert.Equal(max, none.Allotted);
        }

        using var negative = Budget.FromRemaining("server", TimeSpan.FromSeconds(-3), max, _options);
        Assert.Equal(TimeSpan.Zero, negative.Requested);
        Assert.Equal(TimeSpan.Zero, negative.Allotted);
    }

    [Fact]
    public void Opening_a_plan_child_by_name_explains_what_is_missing()
    {
        using (var adHoc = Budget.Start("api", TimeSpan.FromSeconds(10), _options))
        {
            var error = Assert.Throws<InvalidOperationException>(() => adHoc.Child("db"));
            Assert.Equal("'api' was not opened from a BudgetPlan, so Child(\"db\") has no timeout to use; pass one.", error.Message);
        }

        var plan = BudgetPlan.Parse("""
            { "layer": "api", "timeout": "10s", "children": [ { "layer": "db", "timeout": "2s" }, { "layer": "cache", "timeout": "1s" } ] }
            """);
        using var root = plan.Start(_options);
        Assert.Same(plan.Root, root.PlanNode);
        var missing = Assert.Throws<InvalidOperationException>(() => root.Child("queue"));
        Assert.Equal("The plan declares no layer 'queue' under 'api'; declared: db, cache.", missing.Message);

        using var db = root.Child("db");
        Assert.Same(db, Budget.Current);
        Assert.Equal(TimeSpan.FromSeconds(2), db.Allotted);
        Assert.Same(plan.Root.FindChild("db"), db.PlanNode);
    }

    // ---- The "ran out" message ----

    [Fact]
    public void A_clamped_child_that_runs_out_says_what_it_asked_for_and_what_its_parent_could_allow()
    {
        using var orchestrator = Budget.Start("orchestrator", TimeSpan.FromSeconds(180), _options);
        using var sdk = orchestrator.Child("sdk", TimeSpan.FromSeconds(240));
        _clock.Advance(TimeSpan.FromSeconds(171));

        var exception = Assert.Throws<BudgetExhaustedException>(sdk.ThrowIfExpired);
        Assert.Equal(
            "The 'sdk' budget (orchestrator/sdk) ran out: 171 s allotted, 171 s elapsed. It asked for 240 s; orchestrator could only allow 171 s.",
            exception.Message);
        Assert.Equal(TimeSpan.FromSeconds(171), exception.Elapsed);
    }

    [Fact]
    public void A_child_that_got_what_it_asked_for_or_a_capped_root_runs_out_without_the_clamping_clause()
    {
        using (var orchestrator = Budget.Start("orchestrator", TimeSpan.FromSeconds(180), _options))
        using (var db = orchestrator.Child("db", TimeSpan.FromSeconds(20)))
        {
            _clock.Advance(TimeSpan.FromSeconds(20));
            Assert.Equal("The 'db' budget (orchestrator/db) ran out: 20 s allotted, 20 s elapsed.", Assert.Throws<BudgetExhaustedException>(db.ThrowIfExpired).Message);
        }

        // A root capped by our maximum asked for more too, but no parent clamped it.
        using var server = Budget.FromRemaining("server", TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30), _options);
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("The 'server' budget (server) ran out: 30 s allotted, 30 s elapsed.", Assert.Throws<BudgetExhaustedException>(server.ThrowIfExpired).Message);
    }

    // ---- Attribution ----

    [Fact]
    public void A_childs_own_caller_cancelling_is_reported_at_the_child_with_its_time_spent_and_left()
    {
        using var root = Budget.Start("server", TimeSpan.FromSeconds(30), _options);
        using var caller = new CancellationTokenSource();
        using var child = root.Child("db", TimeSpan.FromSeconds(10), TimeSpan.Zero, caller.Token);
        _clock.Advance(TimeSpan.FromSeconds(2));
        caller.Cancel();

        var exception = Assert.Throws<BudgetCancelledException>(child.ThrowIfExpired);
        Assert.Equal("db", exception.Layer);
        Assert.Equal("server/db", exception.Path);
        Assert.Equal(TimeSpan.FromSeconds(2), exception.Elapsed);
        Assert.Equal(TimeSpan.FromSeconds(8), exception.Remaining);
        Assert.Equal("'db' (server/db) was cancelled by its caller after 2 s with 8 s still left: the caller's cancellation, not a timeout.", exception.Message);
        Assert.Null(root.AsExpiry(new OperationCanceledException()));
        root.ThrowIfExpired();
    }

    [Fact]
    public void AsExpiry_hands_back_an_expiry_it_is_given_as_it_is()
    {
        using var root = Budget.Start("server", TimeSpan.FromSeconds(30), _options);
        var elsewhere = new BudgetExhaustedException("peer", "peer/db", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        Assert.Same(elsewhere, root.AsExpiry(elsewhere));
        Assert.Null(root.AsExpiry(new OperationCanceledException()));
    }

    [Fact]
    public async Task A_fault_thrown_after_the_deadline_passed_is_still_the_works_own_fault()
    {
        using var root = Budget.Start("api", TimeSpan.FromSeconds(1), _options);
        var result = await root.TryRunAsync<int>(_ =>
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            throw new InvalidOperationException("schema mismatch");
        });

        Assert.Equal(BudgetOutcome.Faulted, result.Outcome);
        Assert.Equal("schema mismatch", Assert.IsType<InvalidOperationException>(result.Exception).Message);
        Assert.Null(result.ExpiredLayer);
        Assert.Equal(TimeSpan.FromSeconds(1), result.Elapsed);

        // Ended first: a root opened inside the expired one would end with it.
        root.Dispose();
        using var second = Budget.Start("api2", TimeSpan.FromSeconds(1), _options);
        var expired = await second.TryRunAsync<int>(token =>
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            token.ThrowIfCancellationRequested();
            return Task.FromResult(0);
        });
        Assert.Equal(BudgetOutcome.Expired, expired.Outcome);
        Assert.Equal("api2", expired.ExpiredLayer);
    }

    [Fact]
    public async Task A_run_reports_how_long_it_took()
    {
        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), _options);
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = root.TryRunAsync(_ => gate.Task);
        _clock.Advance(TimeSpan.FromSeconds(3));
        gate.SetResult(5);

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(5, result.Value);
        Assert.Equal(TimeSpan.FromSeconds(3), result.Elapsed);
    }

    [Fact]
    public async Task Work_is_required()
    {
        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), _options);
        Assert.Equal("work", (await Assert.ThrowsAsync<ArgumentNullException>(() => root.TryRunAsync<int>(null!))).ParamName);
        Assert.Equal("work", Assert.Throws<ArgumentNullException>(() => root.TryRunAsync<int, int>(null!, 0)).ParamName);
        Assert.Equal("work", (await Assert.ThrowsAsync<ArgumentNullException>(() => root.RunAsync<int>(null!))).ParamName);
    }

    [Fact]
    public async Task Work_under_a_budget_its_caller_cancelled_is_not_started()
    {
        using var caller = new CancellationTokenSource();
        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), _options, caller.Token);
        caller.Cancel();

        var (started, result) = await WorkProbe.TryStartAsync(root);

        Assert.False(started);
        Assert.Equal(BudgetOutcome.Cancelled, result.Outcome);
        Assert.Equal("api", Assert.IsType<BudgetCancelledException>(result.Exception).Path);
    }

    [Fact]
    public async Task Work_that_throws_before_returning_a_task_is_over_for_the_monitor()
    {
        var monitor = new BudgetMonitor(_clock);
        var budget = Budget.Start("api", TimeSpan.FromSeconds(10), _options with { Monitor = monitor });
        var result = await budget.TryRunAsync<int>(_ => throw new InvalidOperationException("bad input"));
        Assert.Equal(BudgetOutcome.Faulted, result.Outcome);

        budget.Dispose();
        Assert.Equal(0, monitor.LiveCount);
    }

    [Fact]
    public async Task Work_completing_synchronously_or_later_is_counted_as_completed()
    {
        var layer = "sync-" + Guid.NewGuid().ToString("N")[..8];
        var outcomes = new List<string>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == BudgetTelemetryNames.MeterName && instrument.Name == BudgetTelemetryNames.Outcomes)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            var tagged = tags.ToArray();
            if (tagged.Any(t => t.Key == "layer" && Equals(t.Value, layer)))
            {
                lock (outcomes)
                {
                    outcomes.Add((string)tagged.Single(t => t.Key == "outcome").Value!);
                }
            }
        });
        listener.Start();

        using var root = Budget.Start(layer, TimeSpan.FromSeconds(10), _options);
        var pending = root.TryRunAsync(static (state, _) => new ValueTask<int>(state), 7);
        Assert.True(pending.IsCompletedSuccessfully);
        Assert.Equal(["completed"], outcomes);

        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var later = root.TryRunAsync(_ => gate.Task);
        gate.SetResult(8);
        Assert.Equal(8, (await later.WaitAsync(TimeSpan.FromSeconds(10))).Value);
        Assert.Equal(["completed", "completed"], outcomes);
    }

    [Fact]
    public void Disposing_a_budget_twice_leaves_its_token_alone_and_the_next_budget_working()
    {
        using var root = Budget.Start("orchestrator", TimeSpan.FromMinutes(1), _options);
        var call = root.DetachedChild("call", TimeSpan.FromSeconds(10));
        var first = call.Token;
        call.Dispose();
        call.Dispose();

        using var next = root.DetachedChild("call", TimeSpan.FromSeconds(10));
        Assert.NotEqual(first, next.Token);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(next.Token.IsCancellationRequested);
        Assert.False(first.IsCancellationRequested);
    }

    [Fact]
    public void A_disposed_budget_is_not_kept_alive_by_the_flow_it_was_current_on()
    {
        var disposed = OpenAndDispose(_options);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(disposed.IsAlive);
        Assert.Null(Budget.Current);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference OpenAndDispose(BudgetOptions options)
    {
        var budget = Budget.Start("short-lived", TimeSpan.FromSeconds(1), options);
        budget.Dispose();
        return new WeakReference(budget);
    }

    // ---- Boundaries on a clock whose timers only fire when told ----

    [Fact]
    public void At_exactly_the_deadline_a_budget_is_expired_by_the_clock_though_its_timer_has_not_fired()
    {
        var clock = new HandFiredClock();
        using var root = Budget.Start("api", TimeSpan.FromSeconds(1), new BudgetOptions { TimeProvider = clock });

        clock.Advance(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1));
        Assert.False(root.IsExpired);
        Assert.Equal(TimeSpan.FromTicks(1), root.Remaining);

        clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(root.IsExpired);
        Assert.Equal(TimeSpan.Zero, root.Remaining);
        Assert.False(root.Token.IsCancellationRequested);

        var exception = Assert.Throws<BudgetExhaustedException>(() => root.Child("db", TimeSpan.FromMilliseconds(1)));
        Assert.Equal("api", exception.Path);
        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public async Task At_exactly_the_deadline_work_is_not_started()
    {
        var clock = new HandFiredClock();
        using var root = Budget.Start("api", TimeSpan.FromSeconds(1), new BudgetOptions { TimeProvider = clock });
        clock.Advance(TimeSpan.FromSeconds(1));

        var (started, result) = await WorkProbe.TryStartAsync(root);

        Assert.False(started);
        Assert.Equal(BudgetOutcome.Expired, result.Outcome);
        Assert.Equal("api", result.ExpiredLayer);
    }

    [Fact]
    public void A_zero_timeout_cancels_the_token_at_once_without_waiting_for_a_timer()
    {
        var clock = new HandFiredClock();
        using var root = Budget.Start("api", TimeSpan.Zero, new BudgetOptions { TimeProvider = clock });
        Assert.True(root.Token.IsCancellationRequested);
        Assert.Equal("api", Assert.Throws<BudgetExhaustedException>(root.ThrowIfExpired).Path);
    }

    [Fact]
    public void A_timer_firing_early_by_any_amount_is_rearmed_so_the_token_never_cancels_before_the_deadline()
    {
        var clock = new HandFiredClock();
        using var root = Budget.Start("api", TimeSpan.FromMilliseconds(40), new BudgetOptions { TimeProvider = clock });

        clock.Advance(TimeSpan.FromMilliseconds(37));
        clock.FireAll();
        Assert.False(root.Token.IsCancellationRequested);
        Assert.Equal(TimeSpan.FromMilliseconds(3), clock.LastDue);

        clock.Advance(TimeSpan.FromMilliseconds(2.5));
        clock.FireAll();
        Assert.False(root.Token.IsCancellationRequested, "half a millisecond early is still early");
        Assert.False(root.IsExpired);
        Assert.Equal(TimeSpan.FromMilliseconds(1), clock.LastDue);

        clock.Advance(TimeSpan.FromMilliseconds(0.5));
        clock.FireAll();
        Assert.True(root.Token.IsCancellationRequested);
        Assert.True(root.IsExpired);
    }

    [Fact]
    public void A_timer_5_ms_early_is_not_the_deadline_and_the_wait_for_the_rest_is_rounded_up_to_whole_milliseconds()
    {
        var clock = new HandFiredClock();
        using var early = Budget.Start("early", TimeSpan.FromMinutes(1), new BudgetOptions { TimeProvider = clock });
        clock.Advance(TimeSpan.FromMinutes(1) - TimeSpan.FromMilliseconds(10.5));
        clock.FireAll();
        Assert.False(early.Token.IsCancellationRequested);
        Assert.Equal(TimeSpan.FromMilliseconds(11), clock.LastDue);

        clock.Advance(TimeSpan.FromMilliseconds(5.5));
        clock.FireAll();
        Assert.False(early.Token.IsCancellationRequested);
        Assert.Equal(TimeSpan.FromMilliseconds(5), early.Remaining);
        Assert.Equal(TimeSpan.FromMilliseconds(5), clock.LastDue);

        clock.Advance(TimeSpan.FromMilliseconds(5));
        clock.FireAll();
        Assert.True(early.Token.IsCancellationRequested);
        Assert.Equal(TimeSpan.Zero, early.Remaining);
    }

    [Fact]
    public void Available_is_zero_never_negative_once_only_the_reserve_is_left()
    {
        using var root = Budget.Start("api", TimeSpan.FromSeconds(2), _options with { Reserve = TimeSpan.FromSeconds(1) });
        Assert.Equal(TimeSpan.FromSeconds(0.95), root.Available);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.Zero, root.Available);
        Assert.False(root.Fits(TimeSpan.FromTicks(1)));
    }

    [Fact]
    public void A_child_born_in_its_parents_reserve_tail_has_its_deadline_where_the_childrens_window_closed()
    {
        using var root = Budget.Start("root", TimeSpan.FromMilliseconds(100), _options with { Reserve = TimeSpan.FromMilliseconds(50) });
        _clock.Advance(TimeSpan.FromMilliseconds(55));
        using var child = root.Child("child", TimeSpan.FromMilliseconds(10));

        // The children's window closed 50 ms (the reserve) before the parent's deadline, 5 ms ago.
        Assert.Equal(root.Deadline - TimeSpan.FromMilliseconds(50), child.Deadline);
        Assert.Equal(TimeSpan.Zero, child.Allotted);
        Assert.Equal(TimeSpan.FromMilliseconds(10), child.Requested);
        Assert.True(child.IsExpired);
        Assert.True(child.Token.IsCancellationRequested);
    }

    [Fact]
    public void A_child_asking_for_exactly_what_is_available_gets_it_without_a_report()
    {
        using var root = Budget.Start("root", TimeSpan.FromSeconds(100), _options);
        using (var exact = root.Child("exact", TimeSpan.FromSeconds(95)))
        {
            Assert.Equal(TimeSpan.FromSeconds(95), exact.Allotted);
            Assert.Equal(TimeSpan.FromSeconds(95), exact.Requested);
            Assert.Empty(_misaligned);
        }

        using var over = root.Child("over", TimeSpan.FromSeconds(95) + TimeSpan.FromTicks(1));
        Assert.Equal(TimeSpan.FromSeconds(95), over.Allotted);
        Assert.Equal(TimeSpan.FromSeconds(95) + TimeSpan.FromTicks(1), over.Requested);
        Assert.Equal("root/over", Assert.Single(_misaligned).Path);
    }

    // ---- Separate roots inside a budget ----

    [Fact]
    public void A_separate_root_is_reported_only_beyond_what_the_enclosing_budget_has_available_and_names_its_reserve()
    {
        using var wait = Budget.Start("wait", TimeSpan.FromSeconds(10), _options with { Reserve = TimeSpan.FromSeconds(2) });
        Assert.Equal(TimeSpan.FromSeconds(7.6), wait.Available);

        using (Budget.Start("fits", TimeSpan.FromSeconds(7.6), _options))
        {
            Assert.Empty(_misaligned);
        }

        using (var sdk = Budget.Start("sdk", TimeSpan.FromSeconds(9), _options))
        {
            Assert.Equal(TimeSpan.FromSeconds(9), sdk.Allotted);
        }

        var report = Assert.Single(_misaligned);
        Assert.Equal(
            "sdk requested 9 s but wait has 10 s left (reserve 2 s, margin 400 ms); inner timeouts must expire before the outer ones that contain them; sdk was opened as a separate root (Budget.Start), so it is cancelled when wait ends and its own timeout never fires (open it with Budget.Enter or wait.Child to nest it).",
            report.Message);
        Assert.Equal("sdk", report.Path);
        Assert.Equal("wait", report.ParentPath);
        Assert.Equal(TimeSpan.FromSeconds(9), report.Granted);
        Assert.Equal(TimeSpan.FromSeconds(7.6), report.Available);
        Assert.Equal(TimeSpan.FromSeconds(2), report.Reserve);
        Assert.Equal(TimeSpan.FromMilliseconds(400), report.Margin);
    }

    [Fact]
    public void An_inversion_names_both_budgets_with_their_deadlines_and_the_time_the_inner_one_had_left()
    {
        using var wait = Budget.Start("wait", TimeSpan.FromSeconds(10), _options);
        using var sdk = Budget.Start("sdk", TimeSpan.FromSeconds(15), _options);
        _clock.Advance(TimeSpan.FromSeconds(10));

        var inversion = Assert.Single(_inverted);
        Assert.Equal(TimeSpan.FromSeconds(5), inversion.InnerRemaining);
        Assert.Equal(sdk.Deadline, inversion.InnerDeadline);
        Assert.Equal(wait.Deadline, inversion.OuterDeadline);
        Assert.Equal("wait expired while sdk, which should have expired first, was still armed with 5 s left; sdk was cancelled with it, so its own timeout never fired.", inversion.Message);
    }

    [Fact]
    public void The_enclosing_budget_cancelled_by_its_caller_is_no_inversion_and_cancels_the_inner_root_as_the_callers()
    {
        using var caller = new CancellationTokenSource();
        using var wait = Budget.Start("wait", TimeSpan.FromSeconds(10), _options, caller.Token);
        using var sdk = Budget.Start("sdk", TimeSpan.FromSeconds(15), _options);
        caller.Cancel();
        _clock.Advance(TimeSpan.FromSeconds(10));

        Assert.True(wait.Token.IsCancellationRequested);
        Assert.Empty(_inverted);
        Assert.True(sdk.Token.IsCancellationRequested);
        Assert.Equal("wait", Assert.Throws<BudgetCancelledException>(sdk.ThrowIfExpired).Path);
    }

    [Fact]
    public void An_inner_root_already_cancelled_or_disposed_is_no_inversion()
    {
        using var caller = new CancellationTokenSource();
        using var wait = Budget.Start("wait", TimeSpan.FromSeconds(10), _options);
        using var cancelled = Budget.Start("cancelled", TimeSpan.FromSeconds(15), _options, caller.Token);
        var disposed = Budget.Start("disposed", TimeSpan.FromSeconds(15), _options);
        caller.Cancel();
        disposed.Dispose();
        _clock.Advance(TimeSpan.FromSeconds(10));

        Assert.True(wait.Token.IsCancellationRequested);
        Assert.Empty(_inverted);
    }

    [Fact]
    public void An_inner_root_due_at_the_same_instant_as_the_enclosing_one_is_no_inversion()
    {
        var clock = new HandFiredClock();
        var inverted = new List<BudgetInversion>();
        var options = new BudgetOptions { TimeProvider = clock, OnInverted = inverted.Add };
        using var wait = Budget.Start("wait", TimeSpan.FromSeconds(10), options);
        using var sdk = Budget.Start("sdk", TimeSpan.FromSeconds(10), options);
        clock.Advance(TimeSpan.FromSeconds(10));

        // Only the enclosing budget's timer has fired so far: the inner root ends with it, and as its own deadline has
        // passed too, it is named as the layer that ran out.
        clock.Fire(0);
        Assert.True(wait.Token.IsCancellationRequested);
        Assert.True(sdk.Token.IsCancellationRequested);
        Assert.Empty(inverted);
        Assert.Equal("sdk", Assert.Throws<BudgetExhaustedException>(sdk.ThrowIfExpired).Path);
    }

    [Fact]
    public void A_plan_roots_reserve_replaces_the_options_reserve_unless_it_leaves_nothing()
    {
        var options = _options with { Reserve = TimeSpan.FromSeconds(1) };
        using (var planned = BudgetPlan.Parse("""{ "layer": "api", "timeout": "10s", "reserve": "2s" }""").Start(options))
        {
            Assert.Equal(TimeSpan.FromSeconds(2), planned.Reserve);
            Assert.Equal(TimeSpan.FromSeconds(10), planned.Allotted);
        }

        using (var none = BudgetPlan.Parse("""{ "layer": "api", "timeout": "10s" }""").Start(options))
        {
            Assert.Equal(TimeSpan.Zero, none.Reserve);
        }

        using var whole = BudgetPlan.Parse("""{ "layer": "api", "timeout": "10s", "reserve": "10s" }""").Start(options);
        Assert.Equal(TimeSpan.Zero, whole.Reserve);
    }

    // ---- Current, logging, execution context ----

    [Fact]
    public async Task Current_skips_a_budget_disposed_on_another_flow()
    {
        using var root = Budget.Start("root", TimeSpan.FromSeconds(10), _options);
        var child = root.Child("child", TimeSpan.FromSeconds(1));
        await Task.Run(child.Dispose);
        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public void An_expiry_is_logged_once_and_a_cancelled_budget_reaching_its_deadline_is_not_logged_as_expired()
    {
        var logs = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        var options = new BudgetOptions { TimeProvider = _clock, LoggerFactory = factory };
        using var caller = new CancellationTokenSource();
        using var api = Budget.Start("api", TimeSpan.FromSeconds(1), options);
        using var cancelled = api.DetachedChildLinkedTo("cancelled", TimeSpan.FromMilliseconds(500), caller.Token);
        caller.Cancel();
        _clock.Advance(TimeSpan.FromSeconds(2));

        var expiries = logs.GetSnapshot().Where(r => r.Message.Contains("expired after its", StringComparison.Ordinal)).Select(r => r.Message).ToList();
        Assert.Equal(["Budget api expired after its 1 s"], expiries);
    }

    [Fact]
    public void Opening_budgets_leaves_the_execution_context_flow_as_it_found_it()
    {
        var options = _options;
        using (ExecutionContext.SuppressFlow())
        {
            using var suppressed = Budget.Start("suppressed", TimeSpan.FromSeconds(1), options);
            Assert.True(ExecutionContext.IsFlowSuppressed());
        }

        using var flowing = Budget.Start("flowing", TimeSpan.FromSeconds(1), options);
        Assert.False(ExecutionContext.IsFlowSuppressed());
    }

    [Fact]
    public void A_detached_child_linked_to_a_token_never_becomes_current()
    {
        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), _options);
        using var caller = new CancellationTokenSource();
        using (var linked = root.DetachedChildLinkedTo("client", TimeSpan.FromSeconds(1), caller.Token))
        {
            Assert.Same(root, Budget.Current);
            caller.Cancel();
            Assert.True(linked.Token.IsCancellationRequested);
        }

        Assert.Same(root, Budget.Current);
    }

    // ---- Found by the mutation runs after issue 15 ----

    [Fact]
    public void Remaining_never_increases_even_on_a_clock_that_steps_back_after_the_expiry()
    {
        // A TimeProvider is meant to be monotonic; one that is not (a clock set back by hand) must not revive a budget.
        using var budget = Budget.Start("api", TimeSpan.FromSeconds(10), _options);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(budget.Token.IsCancellationRequested);

        _clock.AdjustTime(_clock.GetUtcNow() - TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.Zero, budget.Remaining);
        Assert.True(budget.IsExpired);
        Assert.Equal(TimeSpan.Zero, budget.Available);
    }

    [Fact]
    public void An_expiry_after_the_budget_was_disposed_is_still_attributed_to_its_deadline()
    {
        // Work that outlived its using block reports its cancellation late: once the deadline has passed, it is that
        // layer's expiry, not a cancellation by nobody.
        var budget = Budget.Start("sdk-call", TimeSpan.FromSeconds(5), _options);
        budget.Dispose();
        Assert.Null(budget.AsExpiry(new OperationCanceledException()));

        _clock.Advance(TimeSpan.FromSeconds(5));
        var expiry = budget.AsExpiry(new OperationCanceledException());
        Assert.NotNull(expiry);
        Assert.Equal("sdk-call", expiry.Path);
        Assert.Equal("sdk-call", Assert.Throws<BudgetExhaustedException>(budget.ThrowIfExpired).Path);
    }

    [Fact]
    public void A_reserve_as_long_as_what_the_child_is_granted_is_dropped()
    {
        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), _options with { Margin = BudgetMargin.None });
        using var exact = root.Child("worker", Timeout.InfiniteTimeSpan, TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(10), exact.Allotted);
        Assert.Equal(TimeSpan.Zero, exact.Reserve);

        using var shorter = exact.Child("call", Timeout.InfiniteTimeSpan, TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.Equal(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1), shorter.Reserve);
    }

    [Fact]
    public void Path_Token_and_Tag_are_built_once_and_read_again_without_allocating()
    {
        // A plain root keeps no rarely needed fields at all.
        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), _options);
        Assert.False(root.HasExtras);

        using var child = root.DetachedChild("db", TimeSpan.FromSeconds(1));
        Assert.Same(child.Path, child.Path);
        var token = child.Token;
        child.Tag = "run-1";
        var before = GC.GetAllocatedBytesForCurrentThread();
        var again = child.Token;
        child.Tag = "run-2";
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(token, again);
        Assert.Equal("run-2", child.Tag);
    }

    [Fact]
    public void A_deadline_past_the_end_of_the_clock_saturates_instead_of_wrapping_into_the_past()
    {
        // A clock one second before its timestamps run out: a 10 s root must not wrap around into an expired one.
        var clock = new NearTheEndClock();
        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), new BudgetOptions { TimeProvider = clock });
        Assert.Equal(long.MaxValue, root.DeadlineTimestamp);
        Assert.False(root.IsExpired);
        Assert.Equal(TimeSpan.FromSeconds(1), root.Remaining);
        Assert.False(root.Token.IsCancellationRequested);
    }

    /// <summary>A fake clock whose timestamps start one second before <see cref="long.MaxValue"/>.</summary>
    private sealed class NearTheEndClock : TimeProvider
    {
        private readonly FakeTimeProvider _clock = new();
        private readonly long _startTicks;

        public NearTheEndClock() => _startTicks = _clock.GetUtcNow().UtcTicks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => long.MaxValue - TimeSpan.TicksPerSecond + (_clock.GetUtcNow().UtcTicks - _startTicks);

        public override DateTimeOffset GetUtcNow() => _clock.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            _clock.CreateTimer(callback, state, dueTime, period);
    }
}
