using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using TimeoutBudget.Hosting;

namespace TimeoutBudget.Integrations.Tests.Hosting;

public sealed class AddTimeoutBudgetTests
{
    internal static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    // Seed 002, aligned: API 20 s < workflow 40 s < worker 120 s < proxy 125 s, with a reserve for "use the last good result".
    internal static readonly (string, string)[] AlignedPlan =
    [
        ("TimeoutBudget:Plan:Layer", "proxy"), ("TimeoutBudget:Plan:Timeout", "125s"),
        ("TimeoutBudget:Plan:Children:0:Layer", "worker"), ("TimeoutBudget:Plan:Children:0:Timeout", "110s"),
        ("TimeoutBudget:Plan:Children:0:Reserve", "5s"),
        ("TimeoutBudget:Plan:Children:0:Children:0:Layer", "workflow"), ("TimeoutBudget:Plan:Children:0:Children:0:Timeout", "40s"),
        ("TimeoutBudget:Plan:Children:0:Children:0:Children:0:Layer", "api"), ("TimeoutBudget:Plan:Children:0:Children:0:Children:0:Timeout", "20s"),
        ("TimeoutBudget:Plan:Children:0:Children:0:Children:0:Retry:MaxAttempts", "1"),
    ];

    // Seed 001: server 30 s in front of a 65 s context around a 60 s script, and a 30 s config timeout.
    internal static readonly (string, string)[] Seed001Plan =
    [
        ("TimeoutBudget:Plan:Layer", "server"), ("TimeoutBudget:Plan:Timeout", "30s"),
        ("TimeoutBudget:Plan:Children:0:Layer", "go-context"), ("TimeoutBudget:Plan:Children:0:Timeout", "65s"),
        ("TimeoutBudget:Plan:Children:0:Children:0:Layer", "python-script"), ("TimeoutBudget:Plan:Children:0:Children:0:Timeout", "60s"),
        ("TimeoutBudget:Plan:Children:1:Layer", "config-python"), ("TimeoutBudget:Plan:Children:1:Timeout", "30s"),
    ];

    [Fact]
    public void An_aligned_plan_is_bound_and_the_budget_options_use_the_registered_clock_and_monitor()
    {
        var clock = new FakeTimeProvider();
        var services = new ServiceCollection().AddSingleton<TimeProvider>(clock);
        services.AddTimeoutBudget(Config(AlignedPlan).GetSection("TimeoutBudget"));
        using var provider = services.BuildServiceProvider();

        var plan = provider.GetRequiredService<BudgetPlan>();
        var options = provider.GetRequiredService<BudgetOptions>();

        Assert.Equal("proxy/worker/workflow/api", plan.Find("proxy/worker/workflow/api")!.Path);
        Assert.Equal(TimeSpan.FromSeconds(5), plan.Find("proxy/worker")!.Reserve);
        Assert.Same(clock, options.TimeProvider);
        Assert.Same(provider.GetRequiredService<BudgetMonitor>(), options.Monitor);
        using var proxy = plan.Start(options);
        using var worker = proxy.Child("worker");
        Assert.Equal(TimeSpan.FromSeconds(110), worker.Allotted);
    }

    [Fact]
    public void A_misaligned_plan_fails_validation_listing_every_violation()
    {
        var services = new ServiceCollection();
        services.AddTimeoutBudget(Config(Seed001Plan).GetSection("TimeoutBudget"));
        using var provider = services.BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TimeoutBudgetHostingOptions>>().Value);

        Assert.Equal(3, exception.Failures.Count());
        Assert.Contains(exception.Failures, f => f.Contains("server/go-context") && f.Contains("65 s does not fit in server 30 s"));
        Assert.Contains(exception.Failures, f => f.Contains("server/go-context/python-script"));
        Assert.Contains(exception.Failures, f => f.Contains("server/config-python") && f.Contains("(equal is not before)"));
    }

    [Fact]
    public void Malformed_values_are_reported_with_their_configuration_path_and_never_half_applied()
    {
        var services = new ServiceCollection();
        services.AddTimeoutBudget(Config(
            ("TimeoutBudget:Plan:Layer", "api"), ("TimeoutBudget:Plan:Timeout", "20"),
            ("TimeoutBudget:Plan:Children:0:Layer", "db"), ("TimeoutBudget:Plan:Children:0:Timeout", "-5s"),
            ("TimeoutBudget:SweepInterval", "00:00:00")).GetSection("TimeoutBudget"));
        using var provider = services.BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TimeoutBudgetHostingOptions>>().Value);

        Assert.Contains(exception.Failures, f => f.StartsWith("TimeoutBudget:Plan:Timeout:", StringComparison.Ordinal));
        Assert.Contains(exception.Failures, f => f.StartsWith("SweepInterval", StringComparison.Ordinal));
        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<BudgetPlan>());
    }

    [Fact]
    public void A_plan_with_no_timeout_at_all_is_rejected_from_a_file()
    {
        // Seed 003 as deployed: no run-level timeout, no socket timeout.
        var services = new ServiceCollection();
        services.AddTimeoutBudget(Config(("TimeoutBudget:PlanFile", Path.Combine(AppContext.BaseDirectory, "plans", "seed-003-before.timeouts.json"))).GetSection("TimeoutBudget"));
        using var provider = services.BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TimeoutBudgetHostingOptions>>().Value);
        Assert.Contains(exception.Failures, f => f.Contains("integrity-run has no timeout at all"));
    }

    [Fact]
    public void No_plan_at_all_is_a_configuration_error()
    {
        var services = new ServiceCollection();
        services.AddTimeoutBudget(Config().GetSection("TimeoutBudget"));
        using var provider = services.BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TimeoutBudgetHostingOptions>>().Value);
        Assert.Contains("No timeout plan is configured", Assert.Single(exception.Failures));
    }

    [Fact]
    public async Task The_hosted_sweep_hands_each_stuck_run_once_to_the_handlers_and_the_callback()
    {
        var clock = new FakeTimeProvider();
        var store = new RunStore();
        var callbacks = new List<string>();
        var services = new ServiceCollection().AddSingleton<TimeProvider>(clock).AddSingleton(store);
        services.AddTimeoutBudget(Config([.. AlignedPlan, ("TimeoutBudget:SweepInterval", "00:01:00")]).GetSection("TimeoutBudget"),
            o => o.OnOverdue = work => callbacks.Add(work.Path));
        services.AddOverdueWorkHandler<MarkTimedOut>();
        using var provider = services.BuildServiceProvider();
        var hosted = provider.GetServices<IHostedService>().ToList();
        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }

        var run = provider.GetRequiredService<BudgetPlan>().Start(provider.GetRequiredService<BudgetOptions>());
        run.Tag = "run-7";
        store.Status["run-7"] = "running";
        clock.Advance(TimeSpan.FromMinutes(3));
        clock.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal("timeout", store.Status["run-7"]);
        Assert.Equal(["proxy"], callbacks);
        foreach (var service in hosted)
        {
            await service.StopAsync(CancellationToken.None);
        }

        run.Dispose();
    }

    internal sealed class RunStore
    {
        public Dictionary<string, string> Status { get; } = new();
    }

    internal sealed class MarkTimedOut(RunStore store) : IOverdueWorkHandler
    {
        public void OnOverdue(OverdueWork work) => store.Status[(string)work.Tag!] = "timeout";
    }
}
