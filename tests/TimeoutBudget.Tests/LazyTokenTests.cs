using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// Issue 15: a child's cancellation source and timer exist only once someone reads its <see cref="Budget.Token"/>. A
/// child used only through its clock never creates them, and still expires, attributes and reports as before.
/// </summary>
public sealed class LazyTokenTests
{
    private readonly CountingClock _clock = new();

    private BudgetOptions Options => new() { TimeProvider = _clock };

    [Fact]
    public void A_child_used_only_through_its_clock_creates_no_source_and_no_timer()
    {
        var options = Options;
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), options);
        var timersForTheRoot = _clock.TimersCreated;

        using (var call = root.Child("call", TimeSpan.FromSeconds(2)))
        {
            Assert.True(call.Remaining > TimeSpan.Zero);
            Assert.False(call.IsExpired);
            call.ThrowIfExpired();
            Assert.True(call.Fits(TimeSpan.FromSeconds(1)));
            using var inner = call.DetachedChild("inner", TimeSpan.FromSeconds(1));
            Assert.False(inner.IsExpired);
            Assert.False(call.HasTokenSource);
            Assert.False(inner.HasTokenSource);
        }

        Assert.Equal(timersForTheRoot, _clock.TimersCreated);
    }

    [Fact]
    public void A_token_read_late_is_armed_for_what_is_left_and_never_cancels_before_the_deadline()
    {
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options);
        using var call = root.DetachedChild("call", TimeSpan.FromSeconds(4));
        _clock.Advance(TimeSpan.FromSeconds(3));

        var token = call.Token;
        Assert.True(call.HasTokenSource);
        _clock.Advance(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1));
        Assert.False(token.IsCancellationRequested);
        _clock.Advance(TimeSpan.FromTicks(1));

        Assert.True(token.IsCancellationRequested);
        Assert.True(call.IsExpired);
        Assert.Equal("request/call", Assert.Throws<BudgetExhaustedException>(call.ThrowIfExpired).Path);
        Assert.False(root.Token.IsCancellationRequested);
    }

    [Fact]
    public void A_child_without_a_token_expires_by_the_clock_naming_itself_and_a_token_read_afterwards_is_cancelled()
    {
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options);
        using var call = root.Child("call", TimeSpan.FromSeconds(2));
        _clock.Advance(TimeSpan.FromSeconds(2));

        Assert.True(call.IsExpired);
        Assert.Equal(TimeSpan.Zero, call.Remaining);
        Assert.False(call.Fits(TimeSpan.FromMilliseconds(1)));
        var expiry = Assert.Throws<BudgetExhaustedException>(call.ThrowIfExpired);
        Assert.Equal("request/call", expiry.Path);
        Assert.False(call.HasTokenSource);

        Assert.True(call.Token.IsCancellationRequested);
        Assert.Equal("request/call", call.AsExpiry(new OperationCanceledException())?.Path);
    }

    [Fact]
    public void A_cancelled_parent_cancels_children_without_tokens_and_their_late_tokens_come_cancelled()
    {
        using var caller = new CancellationTokenSource();
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options, caller.Token);
        using var call = root.DetachedChild("call", TimeSpan.FromSeconds(2));
        using var inner = call.DetachedChild("inner", TimeSpan.FromSeconds(1));
        caller.Cancel();

        Assert.False(call.HasTokenSource);
        Assert.Equal("request", Assert.Throws<BudgetCancelledException>(inner.ThrowIfExpired).Path);
        Assert.True(inner.Token.IsCancellationRequested);
        Assert.True(call.Token.IsCancellationRequested);
    }

    [Fact]
    public void A_child_disposed_before_anyone_asked_for_its_token_hands_out_one_that_never_cancels()
    {
        using var root = Budget.Start("request", TimeSpan.FromSeconds(10), Options);
        var call = root.DetachedChild("call", TimeSpan.FromSeconds(2));
        call.Dispose();

        var late = call.Token;
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.False(late.IsCancellationRequested);
        Assert.False(call.HasTokenSource);
    }

    [Fact]
    public void Expiry_of_a_child_without_a_token_is_logged_once_whether_observed_or_found_at_dispose()
    {
        var logs = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        var options = new BudgetOptions { TimeProvider = _clock, LoggerFactory = factory };
        using var root = Budget.Start("api", TimeSpan.FromSeconds(10), options);
        using (var observed = root.DetachedChild("observed", TimeSpan.FromSeconds(1)))
        using (var unobserved = root.DetachedChild("unobserved", TimeSpan.FromSeconds(1)))
        using (var inTime = root.DetachedChild("in-time", TimeSpan.FromSeconds(5)))
        {
            _clock.Advance(TimeSpan.FromSeconds(2));
            Assert.Throws<BudgetExhaustedException>(observed.ThrowIfExpired);
            Assert.Throws<BudgetExhaustedException>(observed.ThrowIfExpired);
        }

        var expiries = logs.GetSnapshot().Where(r => r.Message.Contains("expired after its", StringComparison.Ordinal)).Select(r => r.Message).Order().ToList();
        Assert.Equal(["Budget api/observed expired after its 1 s", "Budget api/unobserved expired after its 1 s"], expiries);
    }

    [Fact]
    public async Task Concurrent_first_reads_of_a_token_all_get_the_same_token_and_it_cancels_at_the_deadline()
    {
        using var root = Budget.Start("request", TimeSpan.FromHours(1), Options);
        for (var round = 0; round < 50; round++)
        {
            using var call = root.DetachedChild("call", TimeSpan.FromSeconds(1));
            using var go = new ManualResetEventSlim();
            var readers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                go.Wait();
                return call.Token;
            })).ToArray();
            go.Set();
            var tokens = await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30));

            Assert.All(tokens, token => Assert.Equal(call.Token, token));
            _clock.Advance(TimeSpan.FromSeconds(1));
            Assert.True(call.Token.IsCancellationRequested);
        }
    }

    /// <summary>A fake clock that counts the timers created on it.</summary>
    private sealed class CountingClock : FakeTimeProvider
    {
        private int _timersCreated;

        public int TimersCreated => Volatile.Read(ref _timersCreated);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _timersCreated);
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }
}
