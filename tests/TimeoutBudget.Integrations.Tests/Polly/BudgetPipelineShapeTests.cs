using Polly;
using Polly.Retry;
using TimeoutBudget.Polly;

namespace TimeoutBudget.Integrations.Tests.Polly;

public sealed class BudgetPipelineShapeTests
{
    [Fact]
    public void Seed_000_retries_on_does_not_fit_and_the_violation_shows_the_arithmetic()
    {
        var shape = BudgetPipelineShape.For(
            new BudgetTimeoutStrategyOptions { Layer = "sdk", Timeout = TimeSpan.FromSeconds(540) },
            new RetryStrategyOptions<object> { MaxRetryAttempts = 2, Delay = TimeSpan.FromSeconds(1), BackoffType = DelayBackoffType.Exponential });

        var violation = Assert.Single(shape.Validate("wait", TimeSpan.FromSeconds(600)));

        Assert.Equal("wait/sdk", violation.Path);
        Assert.Contains("3 attempts × 540 s + 1 s + 2 s = 1623 s does not fit in wait 600 s", violation.Message);
        Assert.Equal(TimeSpan.FromSeconds(1623), shape.WorstCase);
    }

    [Fact]
    public void Seed_000_fixed_with_retries_off_fits()
    {
        var shape = new BudgetPipelineShape(new BudgetTimeoutStrategyOptions { Layer = "sdk", Timeout = TimeSpan.FromSeconds(540) });
        Assert.Empty(shape.Validate("wait", TimeSpan.FromSeconds(600)));
        shape.EnsureFits("wait", TimeSpan.FromSeconds(600));
    }

    [Fact]
    public void Jitter_is_counted_at_its_upper_bound_and_a_total_timeout_caps_the_worst_case()
    {
        var attempt = new BudgetTimeoutStrategyOptions { Layer = "attempt", Timeout = TimeSpan.FromSeconds(2) };
        var retry = new RetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.FromSeconds(4), UseJitter = true };
        var total = new BudgetTimeoutStrategyOptions { Layer = "total", Timeout = TimeSpan.FromSeconds(8) };

        Assert.Equal(TimeSpan.FromSeconds(16), new BudgetPipelineShape(attempt, retry).WorstCase);
        var shape = new BudgetPipelineShape(attempt, retry, total);
        Assert.Equal(TimeSpan.FromSeconds(8), shape.WorstCase);

        var violations = shape.Validate("request", TimeSpan.FromSeconds(20));
        var violation = Assert.Single(violations);
        Assert.Equal("request/total/attempt", violation.Path);
        Assert.Contains("3 attempts × 2 s + 5 s + 5 s = 16 s does not fit in total 8 s", violation.Message);
    }

    [Fact]
    public void EnsureFits_lists_every_violation_at_startup()
    {
        var shape = new BudgetPipelineShape(new BudgetTimeoutStrategyOptions { Layer = "attempt", Timeout = TimeSpan.FromSeconds(30) },
            total: new BudgetTimeoutStrategyOptions { Layer = "total", Timeout = TimeSpan.FromSeconds(30) });

        var exception = Assert.Throws<BudgetPlanException>(() => shape.EnsureFits("api", TimeSpan.FromSeconds(20)));
        Assert.Contains("2 violation(s)", exception.Message);
        Assert.Contains("api/total", exception.Message);
        Assert.Contains("api/total/attempt", exception.Message);
    }

    [Fact]
    public void A_plan_layer_supplies_the_budget_margin_and_reserve()
    {
        var plan = BudgetPlan.Create("workflow", TimeSpan.FromSeconds(40), w => w.WithReserve(TimeSpan.FromSeconds(5)));
        var shape = new BudgetPipelineShape(new BudgetTimeoutStrategyOptions { Layer = "api", Timeout = TimeSpan.FromSeconds(20) },
            new RetryStrategyOptions { MaxRetryAttempts = 1, Delay = TimeSpan.FromSeconds(1) });

        var violation = Assert.Single(shape.Validate(plan.Root));
        Assert.Contains("2 attempts × 20 s + 1 s = 41 s does not fit in workflow 40 s − reserve 5 s", violation.Message);
    }
}
