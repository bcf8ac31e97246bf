using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TimeoutBudget.Hosting;

namespace TimeoutBudget.Integrations.Tests.Hosting;

public sealed class HostingIntegrationTests
{
    [Fact]
    public async Task A_host_with_a_misaligned_plan_fails_startup_listing_every_violation()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(AddTimeoutBudgetTests.Seed001Plan.Select(v => new KeyValuePair<string, string?>(v.Item1, v.Item2)));
        builder.Services.AddTimeoutBudget(builder.Configuration.GetSection("TimeoutBudget"));
        using var host = builder.Build();

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(3, exception.Failures.Count());
        Assert.Contains("server/go-context", exception.Message);
        Assert.Contains("server/config-python", exception.Message);
    }

    [Fact]
    public async Task A_running_host_marks_a_run_stuck_past_its_deadline_as_timed_out()
    {
        // Seed 003 fixed: the run has a timeout, and a reaper marks it when the work ignores it.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TimeoutBudget:PlanFile"] = Path.Combine(AppContext.BaseDirectory, "plans", "seed-003-after.timeouts.json"),
            ["TimeoutBudget:SweepInterval"] = "00:00:00.050",
        });
        var marked = new TaskCompletionSource<OverdueWork>(TaskCreationOptions.RunContinuationsAsynchronously);
        builder.Services.AddTimeoutBudget(builder.Configuration.GetSection("TimeoutBudget"), o => o.OnOverdue = w => marked.TrySetResult(w));
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var plan = host.Services.GetRequiredService<BudgetPlan>();
        var options = host.Services.GetRequiredService<BudgetOptions>();
        var run = Budget.Start("integrity-run", TimeSpan.FromMilliseconds(100), options);
        run.Tag = "run-9";
        var stuck = new TaskCompletionSource<int>();
        var result = await run.TryRunAsync(_ => stuck.Task).WaitAsync(TimeSpan.FromSeconds(30));
        run.Dispose();

        var work = await marked.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(BudgetOutcome.Expired, result.Outcome);
        Assert.Equal("run-9", work.Tag);
        Assert.Equal("integrity-run", work.Path);
        Assert.NotNull(plan.Find("integrity-run"));
        stuck.SetResult(0);
        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }
}
