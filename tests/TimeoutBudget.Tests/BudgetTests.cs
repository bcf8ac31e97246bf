using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

public sealed class BudgetTests
{
    private static readonly TimeSpan S180 = TimeSpan.FromSeconds(180);

    private readonly FakeTimeProvider _clock = new();
    private readonly List<BudgetMisalignment> _misaligned = [];
    private readonly List<BudgetInversion> _inverted = [];
    private readonly BudgetOptions _options;

    public BudgetTests()
    {
        _options = new BudgetOptions { TimeProvider = _clock, OnMisaligned = _misaligned.Add, OnInverted = _inverted.Add };
    }

    [Fact]
    public void A_root_has_its_numbers_and_is_current_until_disposed()
    {
        Assert.Null(Budget.Current);
        using (var root = Budget.Start("orchestrator", S180, _options))
        {
            Assert.Same(root, Budget.Current);
            Assert.Equal("orchestrator", root.Path);
            Assert.Null(root.Parent);
            Assert.Equal(S180, root.Requested);
            Assert.Equal(S180, root.Allotted);
            Assert.Equal(_clock.GetUtcNow() + S180, root.Deadline);
            _clock.Advance(TimeSpan.FromSeconds(30));
            Assert.Equal(TimeSpan.FromSeconds(150), root.Remaining);
            Assert.Equal(TimeSpan.FromSeconds(30), root.Elapsed);
            Assert.False(root.IsExpired);
        }

        Assert.Null(Budget.Current);
    }

    [Fact]
    public void Children_nest_their_paths_and_expire_before_their_parents()
    {
        using var orchestrator = Budget.Start("orchestrator", TimeSpan.FromSeconds(600), _options);
        using var transport = orchestrator.Child("transport", TimeSpan.FromSeconds(300));
        using var client = transport.Child("client", TimeSpan.FromSeconds(60));

        Assert.Equal("orchestrator/transport/client", client.Path);
        Assert.Same(transport, client.Parent);
        Assert.Same(client, Budget.Current);
        Assert.True(client.Deadline < transport.Deadline && transport.Deadline < orchestrator.Deadline);
        Assert.Empty(_misaligned);

        _clock.Advance(TimeSpan.FromSeconds(60));
        Assert.True(client.Token.IsCancellationRequested);
        Assert.False(transport.Token.IsCancellationRequested);
        var exception = Assert.Throws<BudgetExhaustedException>(client.ThrowIfExpired);
        Assert.Equal("client", exception.Layer);
        Assert.Equal("orchestrator/transport/client", exception.Path);
        Assert.Equal(TimeSpan.FromSeconds(60), exception.Allotted);
        Assert.IsAssignableFrom<TimeoutException>(exception);
    }

    [Fact]
    public void Clamp_grants_what_fits_keeps_the_request_and_reports_the_numbers()
    {
        using var orchestrator = Budget.Start("orchestrator", S180, _options);
        using var sdk = orchestrator.Child("sdk", TimeSpan.FromSeconds(240));

        Assert.Equal(TimeSpan.FromSeconds(240), sdk.Requested);
        Assert.Equal(TimeSpan.FromSeconds(171), sdk.Allotted);
        Assert.Equal(orchestrator.Deadline - TimeSpan.FromSeconds(9), sdk.Deadline);
        var report = Assert.Single(_misaligned);
        Assert.Equal(
            "sdk requested 240 s but orchestrator has 180 s left (margin 9 s); inner timeouts must expire before the outer ones that contain them; granted 171 s.",
            report.Message);
        Assert.Equal("orchestrator/sdk", report.Path);
    }

    [Fact]
    public void Strict_throws_naming_both_layers_and_every_number()
    {
        using var orchestrator = Budget.Start("orchestrator", S180, _options with { Mode = BudgetMode.Strict });
        var exception = Assert.Throws<BudgetMisalignedException>(() => orchestrator.Child("sdk", TimeSpan.FromSeconds(240)));

        Assert.StartsWith("sdk requested 240 s but orchestrator has 180 s left (margin 9 s); inner timeouts must expire before the outer ones that contain them", exception.Message);
        Assert.Equal("sdk", exception.ChildLayer);
        Assert.Equal("orchestrator", exception.ParentLayer);
        Assert.Equal(TimeSpan.FromSeconds(171), exception.Available);
        Assert.Same(orchestrator, Budget.Current);
    }

    [Fact]
    public void Equal_is_not_before()
    {
        using var proxy = Budget.Start("proxy", TimeSpan.FromSeconds(120), _options);
        using var worker = proxy.Child("worker", TimeSpan.FromSeconds(120));
        Assert.True(worker.Deadline < proxy.Deadline);
        Assert.Single(_misaligned);
    }

    [Fact]
    public void A_child_of_an_expired_parent_fails_at_once_naming_the_parent()
    {
        using var root = Budget.Start("workflow", TimeSpan.FromSeconds(40), _options);
        _clock.Advance(TimeSpan.FromSeconds(41));
        var exception = Assert.Throws<BudgetExhaustedException>(() => root.Child("api", TimeSpan.FromSeconds(20)));
        Assert.Equal("workflow", exception.Path);
        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public void A_childs_token_fires_when_its_parents_does_and_attribution_names_the_innermost_expired_layer()
    {
        using var root = Budget.Start("run", TimeSpan.FromSeconds(10), _options with { Margin = BudgetMargin.None });
        using var child = root.Child("fetch", Timeout.InfiniteTimeSpan);
        Assert.Equal(TimeSpan.FromSeconds(10), child.Allotted);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(root.Token.IsCancellationRequested);
        Assert.True(child.Token.IsCancellationRequested);
        Assert.Equal("run/fetch", Assert.Throws<BudgetExhaustedException>(child.ThrowIfExpired).Path);
        Assert.Equal("run", Assert.Throws<BudgetExhaustedException>(root.ThrowIfExpired).Path);
    }

    [Fact]
    public void A_parent_cancelled_by_its_caller_cancels_the_child_as_the_callers_doing()
    {
        using var caller = new CancellationTokenSource();
        using var root = Budget.Start("run", TimeSpan.FromSeconds(10), _options, caller.Token);
        using var child = root.Child("fetch", TimeSpan.FromSeconds(5));
        caller.Cancel();
        Assert.Equal("run", Assert.Throws<BudgetCancelledException>(child.ThrowIfExpired).Path);
        Assert.Throws<BudgetCancelledException>(() => root.Child("late", TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void The_callers_cancellation_is_never_reported_as_our_timeout()
    {
        using var caller = new CancellationTokenSource();
        using var server = Budget.Start("server", TimeSpan.FromSeconds(30), _options, caller.Token);
        using var script = server.Child("script", TimeSpan.FromSeconds(20));

        _clock.Advance(TimeSpan.FromMilliseconds(500));
        caller.Cancel();

        Assert.True(script.Token.IsCancellationRequested);
        var exception = Assert.Throws<BudgetCancelledException>(script.ThrowIfExpired);
        Assert.Equal("server", exception.Path);
        Assert.Contains("cancelled by its caller after 500 ms", exception.Message);
        Assert.Contains("not a timeout", exception.Message);
        Assert.IsNotType<TimeoutException>(exception);

        // Even after the clock passes the deadline, the first cause stands.
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Throws<BudgetCancelledException>(script.ThrowIfExpired);
    }

    [Fact]
    public void A_child_can_link_its_own_caller_token()
    {
        using var root = Budget.Start("root", TimeSpan.FromSeconds(30), _options);
        using var callerOfChild = new CancellationTokenSource();
        using var child = root.Child("child", TimeSpan.FromSeconds(10), TimeSpan.Zero, callerOfChild.Token);
        callerOfChild.Cancel();
        Assert.True(child.Token.IsCancellationRequested);
        Assert.False(root.Token.IsCancellationRequested);
        Assert.Equal("root/child", Assert.Throws<BudgetCancelledException>(child.ThrowIfExpired).Path);
    }

    [Fact]
    public void Expiry_is_seen_by_the_clock_even_before_a_timer_fires()
    {
        var clock = new ManualClock();
        using var root = Budget.Start("root", TimeSpan.FromSeconds(1), new BudgetOptions { TimeProvider = clock });
        clock.Now += TimeSpan.FromSeconds(2);
        Assert.True(root.IsExpired);
        Assert.Throws<BudgetExhaustedException>(root.ThrowIfExpired);
        Assert.True(root.Token.IsCancellationRequested);
    }

    [Fact]
    public void A_separate_root_inside_a_budget_is_reported_as_misaligned_and_then_as_an_inversion()
    {
        // Seed 000: the SDK's own 240 s timeout inside a 180 s wait.
        using var wait = Budget.Start("agent-wait", S180, _options);
        using var sdk = Budget.Start("sdk", TimeSpan.FromSeconds(240), _options);

        Assert.Equal(TimeSpan.FromSeconds(240), sdk.Allotted);
        var misaligned = Assert.Single(_misaligned);
        Assert.Contains("sdk requested 240 s but agent-wait has 180 s left (margin 9 s)", misaligned.Message);
        Assert.Contains("is cancelled when agent-wait ends and its own timeout never fires", misaligned.Message);

        _clock.Advance(S180);
        var inversion = Assert.Single(_inverted);
        Assert.Equal("sdk", inversion.InnerPath);
        Assert.Equal("agent-wait", inversion.OuterPath);
        Assert.Equal(TimeSpan.FromSeconds(60), inversion.InnerRemaining);
        Assert.True(sdk.Token.IsCancellationRequested, "a root opened inside a budget never outlives it");
        Assert.False(sdk.IsExpired);
        Assert.Equal("agent-wait", Assert.Throws<BudgetExhaustedException>(sdk.ThrowIfExpired).Path);
    }

    [Fact]
    public void A_shorter_separate_root_is_neither_misaligned_nor_inverted()
    {
        using var wait = Budget.Start("agent-wait", TimeSpan.FromSeconds(600), _options);
        using var sdk = Budget.Start("sdk", TimeSpan.FromSeconds(540), _options);
        _clock.Advance(TimeSpan.FromSeconds(600));
        Assert.Empty(_misaligned);
        Assert.Empty(_inverted);
    }

    [Fact]
    public void Strict_refuses_a_separate_root_longer_than_the_budget_around_it()
    {
        using var wait = Budget.Start("agent-wait", S180, _options);
        Assert.Throws<BudgetMisalignedException>(() => Budget.Start("sdk", TimeSpan.FromSeconds(240), _options with { Mode = BudgetMode.Strict }));
    }

    [Fact]
    public void A_reserve_keeps_time_for_the_fallback()
    {
        // Seed 002: the workflow keeps 5 s to return the last good result.
        using var workflow = Budget.Start("workflow", TimeSpan.FromSeconds(40), _options with { Reserve = TimeSpan.FromSeconds(5) });
        using var api = workflow.Child("api", Timeout.InfiniteTimeSpan);

        Assert.Equal(TimeSpan.FromSeconds(5), workflow.Reserve);
        Assert.Equal(TimeSpan.FromSeconds(33.25), api.Allotted);
        _clock.Advance(api.Allotted);
        Assert.True(api.Token.IsCancellationRequested);
        Assert.False(workflow.Token.IsCancellationRequested);
        Assert.Equal(TimeSpan.FromSeconds(6.75), workflow.Remaining);
        Assert.True(workflow.Remaining > workflow.Reserve, "the fallback must still have its reserve when the inner call gives up");
    }

    [Fact]
    public void A_child_may_keep_a_reserve_of_its_own()
    {
        using var root = Budget.Start("root", TimeSpan.FromSeconds(100), _options);
        using var workflow = root.Child("workflow", TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(5), workflow.Reserve);
        using var api = workflow.Child("api", TimeSpan.FromSeconds(40));
        Assert.Equal(TimeSpan.FromSeconds(33.25), api.Allotted);
    }

    [Fact]
    public void Fits_answers_whether_an_attempt_and_its_delay_still_fit()
    {
        using var root = Budget.Start("root", TimeSpan.FromSeconds(100), _options);
        Assert.Equal(TimeSpan.FromSeconds(95), root.Available);
        Assert.True(root.Fits(TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(5)));
        Assert.False(root.Fits(TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(6)));
        Assert.False(root.Fits(TimeSpan.FromSeconds(-1)));
        Assert.False(root.Fits(TimeSpan.MaxValue, TimeSpan.MaxValue));
        _clock.Advance(TimeSpan.FromSeconds(50));
        Assert.False(root.Fits(TimeSpan.FromSeconds(90)));
    }

    [Fact]
    public void Bad_input_gets_a_clear_exception()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Budget.Start("a", TimeSpan.FromSeconds(-1), _options));
        Assert.Throws<ArgumentException>(() => Budget.Start("", TimeSpan.FromSeconds(1), _options));
        Assert.Throws<ArgumentException>(() => Budget.Start("a/b", TimeSpan.FromSeconds(1), _options));
        Assert.Equal("layer", Assert.Throws<ArgumentNullException>(() => Budget.Start(null!, TimeSpan.FromSeconds(1), _options)).ParamName);
        Assert.Throws<ArgumentException>(() => Budget.Start("a", TimeSpan.FromSeconds(1), new BudgetOptions { MaxTimeout = TimeSpan.FromDays(400) }));
        Assert.Throws<ArgumentException>(() => Budget.Start("a", TimeSpan.FromSeconds(1), new BudgetOptions { TimeProvider = null! }));
        Assert.Throws<ArgumentException>(() => Budget.Start("a", TimeSpan.FromSeconds(1), new BudgetOptions { Reserve = TimeSpan.FromDays(2) }));
        Assert.Null(Budget.Current);

        using var root = Budget.Start("root", TimeSpan.FromSeconds(10), _options);
        Assert.Throws<ArgumentOutOfRangeException>(() => root.Child("c", TimeSpan.FromMilliseconds(-5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => root.Child("c", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentException>(() => root.Child(" ", TimeSpan.FromSeconds(1)));
        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public void Zero_gives_an_already_expired_budget()
    {
        using var root = Budget.Start("root", TimeSpan.Zero, _options);
        Assert.True(root.IsExpired);
        Assert.True(root.Token.IsCancellationRequested);
        Assert.Throws<BudgetExhaustedException>(root.ThrowIfExpired);
    }

    [Fact]
    public void Infinite_and_huge_timeouts_are_clamped_safely()
    {
        var options = _options with { MaxTimeout = TimeSpan.FromHours(1) };
        using (var infinite = Budget.Start("a", Timeout.InfiniteTimeSpan, options))
        {
            Assert.Equal(TimeSpan.FromHours(1), infinite.Allotted);
            using var child = infinite.Child("b", TimeSpan.MaxValue);
            Assert.Equal(TimeSpan.FromMinutes(57), child.Allotted);
        }

        using var max = Budget.Start("a", TimeSpan.MaxValue, options);
        Assert.Equal(TimeSpan.FromHours(1), max.Allotted);
        using var hugeChild = max.Child("b", TimeSpan.FromDays(10_000));
        Assert.Equal(TimeSpan.FromMinutes(57), hugeChild.Allotted);
        Assert.Single(_misaligned);
    }

    [Fact]
    public void FromDeadline_lets_a_caller_shorten_but_never_lengthen()
    {
        var max = TimeSpan.FromSeconds(30);
        using (var shorter = Budget.FromDeadline("server", _clock.GetUtcNow() + TimeSpan.FromSeconds(5), max, _options))
        {
            Assert.Equal(TimeSpan.FromSeconds(5), shorter.Allotted);
        }

        using (var longer = Budget.FromDeadline("server", _clock.GetUtcNow() + TimeSpan.FromDays(300), max, _options))
        {
            Assert.Equal(max, longer.Allotted);
            Assert.Equal(TimeSpan.FromDays(300), longer.Requested);
        }

        using (var none = Budget.FromDeadline("server", null, max, _options))
        {
            Assert.Equal(max, none.Allotted);
        }

        using (var past = Budget.FromDeadline("server", _clock.GetUtcNow() - TimeSpan.FromSeconds(1), max, _options))
        {
            Assert.True(past.IsExpired);
            Assert.Throws<BudgetExhaustedException>(past.ThrowIfExpired);
        }

        using (var farPast = Budget.FromDeadline("server", DateTimeOffset.MinValue, max, _options))
        {
            Assert.True(farPast.IsExpired);
        }

        using (var farFuture = Budget.FromDeadline("server", DateTimeOffset.MaxValue, max, _options))
        {
            Assert.Equal(max, farFuture.Allotted);
        }

        using (var negative = Budget.FromRemaining("server", TimeSpan.FromSeconds(-3), max, _options))
        {
            Assert.True(negative.IsExpired);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => Budget.FromRemaining("server", null, TimeSpan.Zero, _options));
        Assert.Throws<ArgumentOutOfRangeException>(() => Budget.FromRemaining("server", null, TimeSpan.MaxValue, _options));
    }

    [Fact]
    public void Enter_opens_a_child_of_the_current_budget_or_a_root()
    {
        using var root = Budget.Enter("root", TimeSpan.FromSeconds(10), _options);
        Assert.Null(root.Parent);
        using var child = Budget.Enter("child", TimeSpan.FromSeconds(5));
        Assert.Same(root, child.Parent);
        Assert.Same(_options, child.Options);
    }

    [Fact]
    public void Disposal_restores_the_previous_budget_even_out_of_order_and_is_idempotent()
    {
        var root = Budget.Start("root", TimeSpan.FromSeconds(10), _options);
        var child = root.Child("child", TimeSpan.FromSeconds(5));
        var grandchild = child.Child("grandchild", TimeSpan.FromSeconds(1));

        child.Dispose();
        Assert.Same(grandchild, Budget.Current);
        grandchild.Dispose();
        Assert.Same(root, Budget.Current);
        grandchild.Dispose();
        Assert.Same(root, Budget.Current);
        Assert.Throws<ObjectDisposedException>(() => child.Child("late", TimeSpan.FromSeconds(1)));
        root.Dispose();
        Assert.Null(Budget.Current);
    }

    [Fact]
    public async Task Current_flows_into_awaits_and_not_back_out()
    {
        using var root = Budget.Start("root", TimeSpan.FromSeconds(10), _options);
        await Task.Run(async () =>
        {
            Assert.Same(root, Budget.Current);
            using var inner = root.Child("inner", TimeSpan.FromSeconds(1));
            await Task.Yield();
            Assert.Same(inner, Budget.Current);
        });
        Assert.Same(root, Budget.Current);
    }

    [Fact]
    public void A_plan_opens_its_layers_by_name()
    {
        var plan = PlanTestData.Load("seed-002-aligned.timeouts.json");
        using var proxy = plan.Start(_options);
        using var worker = proxy.Child("worker");
        using var workflow = worker.Child("workflow");
        using var api = workflow.Child("anthropic-api");

        Assert.Equal("proxy/worker/workflow/anthropic-api", api.Path);
        Assert.Equal(TimeSpan.FromSeconds(5), workflow.Reserve);
        Assert.Equal(TimeSpan.FromSeconds(20), api.Allotted);
        Assert.Same(plan.Find("proxy/worker/workflow"), workflow.PlanNode);
        Assert.Empty(_misaligned);
        Assert.Throws<InvalidOperationException>(() => workflow.Child("nope"));

        using var adHoc = api.Child("socket", TimeSpan.FromSeconds(1));
        Assert.Throws<InvalidOperationException>(() => adHoc.Child("deeper"));
    }

    [Fact]
    public void A_plan_with_an_unbounded_root_cannot_start()
    {
        Assert.Throws<InvalidOperationException>(() => PlanTestData.Load("seed-003-before.timeouts.json").Start(_options));
    }

    [Fact]
    public void A_throwing_observer_does_not_break_the_budget()
    {
        var options = new BudgetOptions { TimeProvider = _clock, OnMisaligned = _ => throw new InvalidOperationException("observer bug") };
        using var root = Budget.Start("root", TimeSpan.FromSeconds(10), options);
        using var child = root.Child("child", TimeSpan.FromSeconds(20));
        Assert.Equal(TimeSpan.FromSeconds(9.5), child.Allotted);
    }

    [Fact]
    public void AsExpiry_tells_our_timeout_from_faults_and_the_callers_cancellation()
    {
        using var caller = new CancellationTokenSource();
        using var root = Budget.Start("server", TimeSpan.FromSeconds(10), _options, caller.Token);
        using var child = root.Child("db", TimeSpan.FromSeconds(1));
        var fault = new InvalidOperationException("schema mismatch");

        Assert.Null(child.AsExpiry(fault));
        Assert.Null(child.AsExpiry(new OperationCanceledException()));

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("server/db", child.AsExpiry(new TaskCanceledException())!.Path);
        Assert.Null(child.AsExpiry(fault));
        Assert.Null(root.AsExpiry(new OperationCanceledException()));

        caller.Cancel();
        Assert.Null(root.AsExpiry(new OperationCanceledException()));
        Assert.Throws<ArgumentNullException>(() => root.AsExpiry(null!));
    }

    [Fact]
    public void ToString_shows_path_and_time_left()
    {
        using var root = Budget.Start("root", TimeSpan.FromSeconds(10), _options);
        Assert.Equal("root: 10 s of 10 s left", root.ToString());
    }

    /// <summary>A clock whose timers never fire, to observe expiry by the clock alone.</summary>
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;

        public override long GetTimestamp() => Now.UtcTicks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new NeverTimer();

        private sealed class NeverTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
