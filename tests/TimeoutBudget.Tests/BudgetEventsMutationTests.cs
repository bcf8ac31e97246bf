using Microsoft.Extensions.Time.Testing;

namespace TimeoutBudget.Tests;

/// <summary>The reports and exceptions a budget hands to observers and callers: every number and the exact sentences (found untested by mutation testing).</summary>
public sealed class BudgetEventsMutationTests
{
    private static readonly TimeSpan S = TimeSpan.FromSeconds(1);

    private static BudgetMisalignment Misalignment(TimeSpan reserve, BudgetMode mode, bool enclosingOnly) =>
        new("sdk", "api/sdk", "api", "api", 240 * S, 171 * S, 180 * S, 9 * S, reserve, 170 * S, mode, enclosingOnly);

    [Fact]
    public void A_misalignment_keeps_every_number_it_was_given()
    {
        var report = Misalignment(TimeSpan.Zero, BudgetMode.Clamp, enclosingOnly: false);
        Assert.Equal("sdk", report.Layer);
        Assert.Equal("api/sdk", report.Path);
        Assert.Equal("api", report.ParentLayer);
        Assert.Equal("api", report.ParentPath);
        Assert.Equal(240 * S, report.Requested);
        Assert.Equal(171 * S, report.Granted);
        Assert.Equal(180 * S, report.ParentRemaining);
        Assert.Equal(9 * S, report.Margin);
        Assert.Equal(TimeSpan.Zero, report.Reserve);
        Assert.Equal(170 * S, report.Available);
        Assert.Equal(BudgetMode.Clamp, report.Mode);
        Assert.Equal(report.Message, report.ToString());
    }

    [Fact]
    public void A_clamped_misalignment_without_reserve_names_the_margin_and_what_was_granted()
    {
        Assert.Equal(
            "sdk requested 240 s but api has 180 s left (margin 9 s); inner timeouts must expire before the outer ones that contain them; granted 171 s.",
            Misalignment(TimeSpan.Zero, BudgetMode.Clamp, enclosingOnly: false).Message);
    }

    [Fact]
    public void A_misalignment_with_a_reserve_names_the_reserve_before_the_margin()
    {
        Assert.Equal(
            "sdk requested 240 s but api has 180 s left (reserve 1 ms, margin 9 s); inner timeouts must expire before the outer ones that contain them; granted 171 s.",
            Misalignment(TimeSpan.FromMilliseconds(1), BudgetMode.Clamp, enclosingOnly: false).Message);
    }

    [Fact]
    public void A_strict_misalignment_states_the_rule_without_a_grant()
    {
        Assert.Equal(
            "sdk requested 240 s but api has 180 s left (margin 9 s); inner timeouts must expire before the outer ones that contain them.",
            Misalignment(TimeSpan.Zero, BudgetMode.Strict, enclosingOnly: false).Message);
    }

    [Theory]
    [InlineData(BudgetMode.Clamp)]
    [InlineData(BudgetMode.Strict)]
    public void A_separate_root_longer_than_its_enclosing_budget_says_it_ends_with_it_and_how_to_nest_it(BudgetMode mode)
    {
        Assert.Equal(
            "sdk requested 240 s but api has 180 s left (margin 9 s); inner timeouts must expire before the outer ones that contain them; sdk was opened as a separate root (Budget.Start), so it is cancelled when api ends and its own timeout never fires (open it with Budget.Enter or api.Child to nest it).",
            Misalignment(TimeSpan.Zero, mode, enclosingOnly: true).Message);
    }

    [Fact]
    public void A_separate_root_opened_inside_a_shorter_budget_is_reported_not_clamped()
    {
        var time = new FakeTimeProvider();
        var reports = new List<BudgetMisalignment>();
        using var api = Budget.Start("api", 180 * S, new BudgetOptions { TimeProvider = time });
        using var sdk = Budget.Start("sdk", 240 * S, new BudgetOptions { TimeProvider = time, OnMisaligned = reports.Add });

        Assert.Equal(240 * S, sdk.Allotted);
        var report = Assert.Single(reports);
        Assert.Equal("sdk", report.Path);
        Assert.Equal(171 * S, report.Available);
        Assert.EndsWith("; sdk was opened as a separate root (Budget.Start), so it is cancelled when api ends and its own timeout never fires (open it with Budget.Enter or api.Child to nest it).", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_inversion_names_both_paths_and_what_the_inner_budget_had_left()
    {
        var inner = DateTimeOffset.UnixEpoch.AddSeconds(30);
        var outer = DateTimeOffset.UnixEpoch.AddSeconds(10);
        var inversion = new BudgetInversion("api/sdk", "api", 20 * S, inner, outer);

        Assert.Equal("api/sdk", inversion.InnerPath);
        Assert.Equal("api", inversion.OuterPath);
        Assert.Equal(20 * S, inversion.InnerRemaining);
        Assert.Equal(inner, inversion.InnerDeadline);
        Assert.Equal(outer, inversion.OuterDeadline);
        Assert.Equal(
            "api expired while api/sdk, which should have expired first, was still armed with 20 s left; api/sdk was cancelled with it, so its own timeout never fired.",
            inversion.Message);
        Assert.Equal(inversion.Message, inversion.ToString());
    }

    [Fact]
    public void A_caller_cancellation_says_it_is_not_a_timeout_and_keeps_its_numbers()
    {
        using var source = new CancellationTokenSource();
        var cause = new OperationCanceledException("aborted");
        var cancelled = new BudgetCancelledException("db", "api/db", TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2), source.Token, cause);

        Assert.Equal("'db' (api/db) was cancelled by its caller after 250 ms with 2 s still left: the caller's cancellation, not a timeout.", cancelled.Message);
        Assert.Equal("db", cancelled.Layer);
        Assert.Equal("api/db", cancelled.Path);
        Assert.Equal(TimeSpan.FromMilliseconds(250), cancelled.Elapsed);
        Assert.Equal(TimeSpan.FromSeconds(2), cancelled.Remaining);
        Assert.Equal(source.Token, cancelled.CancellationToken);
        Assert.Same(cause, cancelled.InnerException);
    }

    [Fact]
    public void An_expiry_keeps_its_cause_and_numbers()
    {
        var cause = new TaskCanceledException();
        var expired = new BudgetExhaustedException("db", "api/db", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), innerException: cause);
        Assert.Equal("db", expired.Layer);
        Assert.Equal("api/db", expired.Path);
        Assert.Equal(TimeSpan.FromSeconds(1), expired.Allotted);
        Assert.Equal(TimeSpan.FromSeconds(2), expired.Elapsed);
        Assert.Same(cause, expired.InnerException);
    }

    [Fact]
    public void A_misaligned_exception_carries_the_report_message_and_numbers()
    {
        var report = Misalignment(TimeSpan.FromSeconds(3), BudgetMode.Strict, enclosingOnly: false);
        var exception = new BudgetMisalignedException(report);

        Assert.Equal(report.Message, exception.Message);
        Assert.Equal("sdk", exception.ChildLayer);
        Assert.Equal("api", exception.ParentLayer);
        Assert.Equal(240 * S, exception.Requested);
        Assert.Equal(180 * S, exception.ParentRemaining);
        Assert.Equal(9 * S, exception.Margin);
        Assert.Equal(3 * S, exception.Reserve);
        Assert.Equal(170 * S, exception.Available);
    }

    [Fact]
    public void A_misaligned_exception_needs_a_report()
    {
        var error = Assert.Throws<ArgumentNullException>(() => new BudgetMisalignedException(null!));
        Assert.Equal("misalignment", error.ParamName);
    }

    [Fact]
    public void A_result_keeps_what_it_was_given_and_is_completed_only_when_completed()
    {
        var failure = new InvalidOperationException("boom");
        var completed = new BudgetResult<int>(BudgetOutcome.Completed, 42, null, null, S);
        Assert.True(completed.IsCompleted);
        Assert.Equal(42, completed.Value);
        Assert.Null(completed.Exception);
        Assert.Equal(S, completed.Elapsed);

        var expired = new BudgetResult<int>(BudgetOutcome.Expired, 0, failure, "api/db", 2 * S);
        Assert.False(expired.IsCompleted);
        Assert.Equal(BudgetOutcome.Expired, expired.Outcome);
        Assert.Same(failure, expired.Exception);
        Assert.Equal("api/db", expired.ExpiredLayer);
        Assert.Equal(2 * S, expired.Elapsed);

        Assert.False(new BudgetResult<int>(BudgetOutcome.Faulted, 0, failure, null, S).IsCompleted);
        Assert.False(new BudgetResult<int>(BudgetOutcome.Cancelled, 0, failure, null, S).IsCompleted);
    }
}
