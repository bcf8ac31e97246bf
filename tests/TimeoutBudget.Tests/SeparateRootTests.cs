using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>
/// <c>Budget.Start</c> written where <c>Budget.Enter</c> or <c>Current.Child</c> was meant: a root opened while another
/// budget is current must never outlive it (issue 13, item 1).
/// </summary>
public sealed class SeparateRootTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly List<BudgetMisalignment> _misaligned = [];
    private readonly List<BudgetInversion> _inverted = [];
    private readonly BudgetOptions _options;

    public SeparateRootTests()
    {
        _options = new BudgetOptions { TimeProvider = _clock, OnMisaligned = _misaligned.Add, OnInverted = _inverted.Add };
    }

    [Fact]
    public async Task A_root_started_inside_the_request_budget_ends_when_the_request_budget_expires_and_names_it()
    {
        // The README's Polly snippet inside an endpoint behind UseTimeoutBudget, with a 3 s caller deadline.
        using var orders = Budget.FromRemaining("orders", TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10), _options);
        using var request = Budget.Start("request", TimeSpan.FromSeconds(10), _options);
        using var attempt = request.Child("attempt", TimeSpan.FromSeconds(5));
        using var transport = attempt.DetachedChild("transport", Timeout.InfiniteTimeSpan);
        var run = transport.TryRunAsync(async token =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return 0;
        });

        _clock.Advance(TimeSpan.FromSeconds(3));

        // The 3 s request budget stops the work inside the 10 s root (bounded wait on the real clock: the fake one stands still).
        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), TimeProvider.System);
        Assert.Equal(BudgetOutcome.Expired, result.Outcome);
        Assert.Equal("orders", result.ExpiredLayer);
        Assert.Equal(TimeSpan.FromSeconds(3), result.Elapsed);
        Assert.True(request.Token.IsCancellationRequested);
        Assert.True(attempt.Token.IsCancellationRequested);
        Assert.False(request.IsExpired);

        // Both reports are kept: the 10 s root did not fit, and it was still armed when the request budget expired.
        Assert.Equal("request", Assert.Single(_misaligned).Path);
        var inversion = Assert.Single(_inverted);
        Assert.Equal("request", inversion.InnerPath);
        Assert.Equal("orders", inversion.OuterPath);
        Assert.Equal(TimeSpan.FromSeconds(7), inversion.InnerRemaining);
    }

    [Fact]
    public async Task A_root_started_inside_a_budget_its_caller_cancels_is_cancelled_as_the_callers()
    {
        using var aborted = new CancellationTokenSource();
        using var orders = Budget.Start("orders", TimeSpan.FromSeconds(3), _options, aborted.Token);
        using var request = Budget.Start("request", TimeSpan.FromSeconds(2), _options);
        var run = request.TryRunAsync(async token =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return 0;
        });

        _clock.Advance(TimeSpan.FromSeconds(1));
        aborted.Cancel();

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), TimeProvider.System);
        Assert.Equal(BudgetOutcome.Cancelled, result.Outcome);
        Assert.Equal("orders", Assert.IsType<BudgetCancelledException>(result.Exception).Path);
        Assert.Empty(_inverted);
        Assert.Empty(_misaligned);
    }

    [Fact]
    public async Task A_shorter_root_started_inside_a_budget_still_expires_on_its_own_and_leaves_the_enclosing_one_running()
    {
        using var orders = Budget.Start("orders", TimeSpan.FromSeconds(10), _options);
        using var cache = Budget.Start("cache", TimeSpan.FromSeconds(2), _options);
        var run = cache.TryRunAsync(async token =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return 0;
        });

        _clock.Advance(TimeSpan.FromSeconds(2));

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), TimeProvider.System);
        Assert.Equal("cache", result.ExpiredLayer);
        Assert.False(orders.Token.IsCancellationRequested);
        Assert.Empty(_misaligned);
    }

    [Fact]
    public void A_root_started_inside_an_already_expired_budget_is_born_ended()
    {
        using var orders = Budget.Start("orders", TimeSpan.FromSeconds(1), _options);
        _clock.Advance(TimeSpan.FromSeconds(1));
        using var request = Budget.Start("request", TimeSpan.FromSeconds(10), _options);

        Assert.True(request.Token.IsCancellationRequested);
        Assert.Equal("orders", Assert.Throws<BudgetExhaustedException>(request.ThrowIfExpired).Path);
    }

    [Fact]
    public void A_root_outliving_a_cleanly_ended_enclosing_budget_keeps_its_own_deadline()
    {
        var orders = Budget.Start("orders", TimeSpan.FromSeconds(10), _options);
        using var job = Budget.Start("job", TimeSpan.FromSeconds(5), _options);
        orders.Dispose();
        _clock.Advance(TimeSpan.FromSeconds(4));

        Assert.False(job.Token.IsCancellationRequested);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("job", Assert.Throws<BudgetExhaustedException>(job.ThrowIfExpired).Path);
    }
}
