namespace TimeoutBudget.Tests;

/// <summary>The small public types' contracts: what integrations and logs rely on (found untested by mutation testing).</summary>
public sealed class SmallTypesTests
{
    [Theory]
    [InlineData("orchestrator/transport/client", "client")]
    [InlineData("client", "client")]
    [InlineData("a/b", "b")]
    [InlineData("/x", "x")]
    [InlineData("trailing/", "trailing/")]
    [InlineData("/", "/")]
    public void LastSegment_is_the_last_non_empty_segment(string path, string expected) =>
        Assert.Equal(expected, LayerPath.LastSegment(path));

    [Fact]
    public void LastSegment_rejects_null() => Assert.Throws<ArgumentNullException>(() => LayerPath.LastSegment(null!));

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("   ", null)]
    [InlineData("  api/db  ", "api/db")]
    [InlineData("api\u0007db", null)]
    [InlineData("api\u007Fdb", null)]
    [InlineData("ap\u00E9", null)]
    [InlineData(" ~!", "~!")]
    public void SanitizeRemote_keeps_printable_ascii_and_refuses_the_rest(string? path, string? expected) =>
        Assert.Equal(expected, LayerPath.SanitizeRemote(path));

    [Fact]
    public void SanitizeRemote_cuts_long_paths_to_the_limit()
    {
        Assert.Equal(LayerPath.MaxRemotePathLength, LayerPath.SanitizeRemote(new string('a', LayerPath.MaxRemotePathLength + 1))!.Length);
        Assert.Equal(LayerPath.MaxRemotePathLength, LayerPath.SanitizeRemote(new string('a', LayerPath.MaxRemotePathLength))!.Length);
        Assert.Equal(LayerPath.MaxRemotePathLength - 1, LayerPath.SanitizeRemote(new string('a', LayerPath.MaxRemotePathLength - 1))!.Length);
    }

    [Fact]
    public void ThrowIfInvalid_names_the_parameter_and_says_why()
    {
        LayerPath.ThrowIfInvalid("transport", "layer");
        var error = Assert.Throws<ArgumentException>(() => LayerPath.ThrowIfInvalid("a/b", "layer"));
        Assert.Equal("layer", error.ParamName);
        Assert.Contains("'/'", error.Message, StringComparison.Ordinal);
        Assert.EndsWith(". (Parameter 'layer')", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_violation_reads_with_its_position_when_it_has_one()
    {
        Assert.Equal("plan.json (line 3, column 7): too long", new BudgetViolation("plan.json", "too long", 3, 7).ToString());
        Assert.Equal("plan.json: too long", new BudgetViolation("plan.json", "too long").ToString());
    }

    [Fact]
    public void An_expiry_without_a_message_names_the_layer_path_and_numbers()
    {
        var expired = new BudgetExhaustedException("db", "api/db", TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(512));
        Assert.Equal("The 'db' budget (api/db) ran out: 500 ms allotted, 512 ms elapsed.", expired.Message);
        Assert.Equal("custom", new BudgetExhaustedException("db", "api/db", TimeSpan.Zero, TimeSpan.Zero, "custom").Message);
    }

    [Fact]
    public async Task Run_results_describe_themselves_for_logs()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var root = Budget.Start("api", TimeSpan.FromSeconds(1), new BudgetOptions { TimeProvider = time });

        var completed = await root.TryRunAsync(_ => Task.FromResult(1));
        Assert.True(completed.IsCompleted);
        Assert.StartsWith("completed in ", completed.ToString(), StringComparison.Ordinal);

        var faulted = await root.TryRunAsync<int>(_ => throw new InvalidOperationException("boom"));
        Assert.False(faulted.IsCompleted);
        Assert.Equal("faulted with InvalidOperationException: boom", faulted.ToString());

        using var caller = new CancellationTokenSource();
        using var child = root.Child("db", TimeSpan.FromMilliseconds(100), TimeSpan.Zero, caller.Token);
        var pending = child.TryRunAsync(token => Task.Delay(Timeout.Infinite, token).ContinueWith(_ => 0, TaskScheduler.Default));
        caller.Cancel();
        var cancelled = await pending;
        Assert.Equal(BudgetOutcome.Cancelled, cancelled.Outcome);
        Assert.StartsWith("cancelled by the caller after ", cancelled.ToString(), StringComparison.Ordinal);

        using var late = root.Child("cache", TimeSpan.FromMilliseconds(100));
        var expiring = late.TryRunAsync(token => Task.Delay(Timeout.Infinite, token).ContinueWith(_ => 0, TaskScheduler.Default));
        time.Advance(TimeSpan.FromMilliseconds(100));
        var expired = await expiring;
        Assert.Equal(BudgetOutcome.Expired, expired.Outcome);
        Assert.StartsWith("expired at api/cache after ", expired.ToString(), StringComparison.Ordinal);
    }
}
