using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Http.Tests;

public sealed class BudgetMiddlewareTests
{
    private static readonly TimeSpan Maximum = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _clock = new();
    private readonly BudgetOptions _options;

    public BudgetMiddlewareTests()
    {
        _options = new BudgetOptions { TimeProvider = _clock };
    }

    private BudgetMiddleware Middleware(RequestDelegate next) =>
        new(next, new BudgetServerOptions { Layer = "api", Maximum = Maximum, BudgetOptions = _options }, NullLogger<BudgetMiddleware>.Instance);

    private static DefaultHttpContext Request(params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();
        foreach (var (name, value) in headers)
        {
            context.Request.Headers.Append(name, value);
        }

        return context;
    }

    private static string Body(HttpContext context)
    {
        context.Response.Body.Position = 0;
        return new StreamReader(context.Response.Body).ReadToEnd();
    }

    [Theory]
    [InlineData(BudgetHeaders.Remaining, "2500", 2500)]
    [InlineData(BudgetHeaders.GrpcTimeout, "2500m", 2500)]
    [InlineData(BudgetHeaders.EnvoyExpectedTimeout, "2500", 2500)]
    [InlineData(BudgetHeaders.EnvoyExpectedTimeout, "999999999999999999999", 10_000)] // huge: capped by our maximum
    [InlineData(BudgetHeaders.GrpcTimeout, "99999999H", 10_000)]
    [InlineData(BudgetHeaders.GrpcTimeout, "1.5S", 10_000)] // malformed: as if none came
    [InlineData(BudgetHeaders.Remaining, "soon", 10_000)]
    [InlineData("x-unrelated", "1", 10_000)]
    public async Task The_incoming_deadline_capped_by_our_maximum_becomes_the_requests_root_budget(string header, string value, int expectedMs)
    {
        Budget? seen = null;
        CancellationToken aborted = default;
        var context = Request((header, value));
        var originalAborted = context.RequestAborted;

        await Middleware(c =>
        {
            seen = Budget.Current;
            aborted = c.RequestAborted;
            Assert.Same(seen, c.GetTimeoutBudget());
            return Task.CompletedTask;
        }).InvokeAsync(context);

        Assert.NotNull(seen);
        Assert.Equal("api", seen.Path);
        Assert.Null(seen.Parent);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), seen.Allotted);
        Assert.Equal(seen.Token, aborted);
        Assert.Equal(originalAborted, context.RequestAborted);
        Assert.Null(context.GetTimeoutBudget());
        Assert.Null(Budget.Current);
        Assert.Equal(200, context.Response.StatusCode);
    }

    [Theory]
    [InlineData(BudgetHeaders.Remaining, "0")]
    [InlineData(BudgetHeaders.Remaining, "-250")]
    [InlineData(BudgetHeaders.EnvoyExpectedTimeout, "0")]
    [InlineData(BudgetHeaders.GrpcTimeout, "0n")]
    public async Task A_request_that_arrives_already_expired_is_rejected_before_any_work(string header, string value)
    {
        var ran = false;
        var context = Request((header, value));

        await Middleware(_ =>
        {
            ran = true;
            return Task.CompletedTask;
        }).InvokeAsync(context);

        Assert.False(ran);
        Assert.Equal(504, context.Response.StatusCode);
        Assert.Equal("api", context.Response.Headers[BudgetHeaders.Expired]);
        Assert.Contains("already run out", Body(context), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Work_cancelled_by_the_budgets_deadline_gets_a_504_naming_the_layer()
    {
        var context = Request((BudgetHeaders.Remaining, "2000"));
        var started = new TaskCompletionSource();

        var running = Middleware(async c =>
        {
            started.SetResult();
            await Task.Delay(Timeout.Infinite, c.RequestAborted);
        }).InvokeAsync(context);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        _clock.Advance(TimeSpan.FromSeconds(2));
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(504, context.Response.StatusCode);
        Assert.Equal("api", context.Response.Headers[BudgetHeaders.Expired]);
        Assert.Contains("'api' budget", Body(context), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_inner_layers_expiry_is_reported_with_that_layers_path()
    {
        var context = Request();

        await Middleware(c =>
        {
            using var db = Budget.Current!.Child("db", TimeSpan.FromSeconds(1));
            _clock.Advance(TimeSpan.FromSeconds(1));
            db.ThrowIfExpired();
            return Task.CompletedTask;
        }).InvokeAsync(context);

        Assert.Equal(504, context.Response.StatusCode);
        Assert.Equal("api/db", context.Response.Headers[BudgetHeaders.Expired]);
    }

    [Fact]
    public async Task The_callers_cancellation_and_real_faults_pass_through_untouched()
    {
        using var client = new CancellationTokenSource();
        var context = Request();
        context.RequestAborted = client.Token;
        var started = new TaskCompletionSource();
        var running = Middleware(async c =>
        {
            started.SetResult();
            await Task.Delay(Timeout.Infinite, c.RequestAborted);
        }).InvokeAsync(context);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await client.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(200, context.Response.StatusCode);
        Assert.False(context.Response.Headers.ContainsKey(BudgetHeaders.Expired));

        var faulted = Request();
        var fault = await Assert.ThrowsAsync<InvalidOperationException>(() => Middleware(_ => throw new InvalidOperationException("boom")).InvokeAsync(faulted));
        Assert.Equal("boom", fault.Message);
        Assert.Equal(200, faulted.Response.StatusCode);
    }

    [Fact]
    public void Invalid_settings_fail_at_startup()
    {
        Assert.Throws<ArgumentException>(() => new BudgetMiddleware(_ => Task.CompletedTask, new BudgetServerOptions { Layer = "" }, NullLogger<BudgetMiddleware>.Instance));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetMiddleware(_ => Task.CompletedTask, new BudgetServerOptions { Maximum = TimeSpan.Zero }, NullLogger<BudgetMiddleware>.Instance));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetMiddleware(_ => Task.CompletedTask, new BudgetServerOptions { ExpiredStatusCode = 200 }, NullLogger<BudgetMiddleware>.Instance));
    }
}
