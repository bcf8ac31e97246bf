using Amazon.SQS;
using TimeoutBudget.Aws;

namespace TimeoutBudget.Integrations.Tests.Aws;

public sealed class AwsClientBudgetTests
{
    [Fact]
    public void Seed_000_as_deployed_does_not_fit_and_the_report_shows_the_arithmetic()
    {
        var config = new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(240), MaxErrorRetry = 2 };

        var report = AwsClientBudget.Check(config, "wait", TimeSpan.FromSeconds(180));

        Assert.False(report.Fits);
        Assert.Equal(3, report.Attempts);
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)], report.Backoffs);
        Assert.Equal(TimeSpan.FromSeconds(723), report.WorstCase);
        Assert.Equal("3 attempts × 240 s + backoff 1 s + 2 s = 723 s does not fit in wait 180 s − margin 9 s = 171 s.", report.ToString());
    }

    [Fact]
    public void Seed_000_fixed_sdk_540_s_inside_a_600_s_wait_with_retries_off_fits()
    {
        var config = new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(540), MaxErrorRetry = 0 };

        var report = AwsClientBudget.Check(config, "wait", TimeSpan.FromSeconds(600), BudgetMargin.Absolute(TimeSpan.FromSeconds(30)));

        Assert.True(report.Fits, report.ToString());
        Assert.Equal("1 attempt × 540 s = 540 s fits in wait 600 s − margin 30 s = 570 s.", report.ToString());
    }

    [Fact]
    public void A_config_with_no_timeout_is_judged_by_the_http_client_default_and_says_so()
    {
        var report = AwsClientBudget.Check(new AmazonSQSConfig { MaxErrorRetry = 0 }, "job", TimeSpan.FromSeconds(60));

        Assert.False(report.Fits);
        Assert.True(report.TimeoutIsDefault);
        Assert.Contains("100 s (no Timeout set: the HttpClient default)", report.ToString());
    }

    [Fact]
    public void Align_keeps_the_retries_when_each_attempt_still_gets_enough_and_drops_them_otherwise()
    {
        var roomy = new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(240), MaxErrorRetry = 2 };
        var report = AwsClientBudget.Align(roomy, "wait", TimeSpan.FromSeconds(180));
        Assert.True(report.Fits, report.ToString());
        Assert.Equal(2, roomy.MaxErrorRetry);
        Assert.Equal(TimeSpan.FromSeconds(56), roomy.Timeout);
        Assert.Equal(["Timeout 240 s → 56 s"], report.Changes);
        Assert.StartsWith("Changed Timeout 240 s → 56 s. 3 attempts × 56 s", report.ToString(), StringComparison.Ordinal);

        var tight = new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(240), MaxErrorRetry = 2 };
        report = AwsClientBudget.Align(tight, "wait", TimeSpan.FromSeconds(3), BudgetMargin.Absolute(TimeSpan.FromMilliseconds(500)), minimumAttempt: TimeSpan.FromSeconds(1));
        Assert.True(report.Fits, report.ToString());
        Assert.Equal(0, tight.MaxErrorRetry);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), tight.Timeout);
        Assert.Equal(["MaxErrorRetry 2 → 0", "Timeout 240 s → 2.5 s"], report.Changes);
        Assert.StartsWith("Changed MaxErrorRetry 2 → 0, Timeout 240 s → 2.5 s. 1 attempt × 2.5 s", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Align_never_lengthens_a_timeout_that_already_fits()
    {
        var config = new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(5), MaxErrorRetry = 0 };
        var report = AwsClientBudget.Align(config, "wait", TimeSpan.FromSeconds(600));
        Assert.Equal(TimeSpan.FromSeconds(5), config.Timeout);
        Assert.Empty(report.Changes);
        Assert.StartsWith("1 attempt × 5 s", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_plan_layer_supplies_budget_margin_and_reserve()
    {
        var plan = BudgetPlan.Create("worker", TimeSpan.FromSeconds(120), w => w.WithReserve(TimeSpan.FromSeconds(20)));
        var report = AwsClientBudget.Check(new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(30), MaxErrorRetry = 2 }, plan.Root);

        Assert.True(report.Fits, report.ToString());
        Assert.Equal(TimeSpan.FromSeconds(100), report.Budget);
        Assert.Equal(TimeSpan.FromSeconds(93), report.WorstCase);
    }

    [Fact]
    public void The_backoff_bound_doubles_up_to_its_cap()
    {
        var backoff = AwsRetryBackoff.Standard;
        Assert.Equal(TimeSpan.Zero, backoff.Before(0));
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Before(1));
        Assert.Equal(TimeSpan.FromSeconds(16), backoff.Before(5));
        Assert.Equal(TimeSpan.FromSeconds(20), backoff.Before(6));
        Assert.Equal(TimeSpan.FromSeconds(20), backoff.Before(100));
    }

    [Theory]
    [InlineData("SendMessageRequest", "aws-SendMessage")]
    [InlineData("Request", "aws-Request")]
    [InlineData(null, "aws-request")]
    [InlineData("a/b", "aws-ab")]
    public void Attempt_layers_are_named_after_the_operation(string? requestName, string expected) =>
        Assert.Equal(expected, AwsBudget.LayerFor(requestName));
}
