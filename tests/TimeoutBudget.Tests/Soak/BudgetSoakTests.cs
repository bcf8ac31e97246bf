using System.Globalization;
using Xunit.Abstractions;

namespace TimeoutBudget.Tests.Soak;

/// <summary>
/// The short CI pass of the soak (issue 8, item 3). The long run with a memory plot is
/// <c>dotnet run -c Release --project tests/TimeoutBudget.Benchmarks -- soak 20000000</c> (docs/reliability.md).
/// </summary>
/// <remarks>
/// This one test uses the real clock on purpose: timers, their early firing and their races with disposal are what is under
/// test, and a fake clock has none of them. It never sleeps to wait for an outcome; every wait inside is bounded.
/// </remarks>
[Collection(ProcessMemoryCollection.Name)]
public sealed class BudgetSoakTests(ITestOutputHelper output)
{
    [Fact]
    public void Hundreds_of_thousands_of_random_chains_keep_every_promise_and_leave_nothing_behind()
    {
        var budgets = long.TryParse(Environment.GetEnvironmentVariable("TIMEOUTBUDGET_SOAK_BUDGETS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 200_000;
        var result = BudgetSoak.Run(new SoakSettings(budgets, Workers: 8, SampleEvery: TimeSpan.FromMilliseconds(500)));

        Assert.True(result.Violations.Count == 0, string.Join('\n', result.Violations));
        Assert.True(result.Opened >= budgets - 8, $"only {result.Opened} budgets were opened");
        Assert.True(result.Expired > 0, "no child expired: the expiry path was not exercised");
        Assert.True(result.CallerCancelled > 0, "no caller cancelled: that path was not exercised");
        // Budgets own no timer: the clock's one deadline scheduler has the only one, however many budgets opened.
        Assert.InRange(result.LiveTimersAtEnd, 0, 1);
        Assert.True(result.TimersCreated <= 1, $"{result.TimersCreated} timers for {result.Opened} budgets: budgets are arming timers of their own");

        // Flat memory: what is retained at the end is no more than at the first sample plus a small allowance for the
        // pool and runtime caches; a registration left on the root's token per child would be tens of megabytes here.
        var first = result.Samples[0].RetainedBytes;
        var last = result.Samples[^1].RetainedBytes;
        Assert.True(last - first < 4 * 1024 * 1024, $"retained memory grew from {first:N0} to {last:N0} bytes");

        output.WriteLine($"soak: {result.Opened:N0} budgets, {result.Checks:N0} invariant checks, {result.Expired:N0} expired, {result.CallerCancelled:N0} caller cancellations, {result.RefusedUnderExpiredParent:N0} refused under an expired parent, 0 violations, " +
            $"{result.TimersCreated:N0} timers created, {result.LiveTimersAtEnd} live at end, retained {first:N0} -> {last:N0} B, {result.Elapsed.TotalSeconds:F1} s");
    }
}
