using Microsoft.Extensions.Options;

namespace TimeoutBudget.Hosting;

/// <summary>Reads the plan once the options are bound and configured.</summary>
internal sealed class TimeoutBudgetOptionsSetup : IPostConfigureOptions<TimeoutBudgetHostingOptions>
{
    private readonly string _sectionPath;

    public TimeoutBudgetOptionsSetup(string sectionPath) => _sectionPath = sectionPath;

    public void PostConfigure(string? name, TimeoutBudgetHostingOptions options) => PlanReader.Resolve(options, _sectionPath);
}

/// <summary>Fails validation (and so startup, with <c>ValidateOnStart</c>) listing every plan problem and violation.</summary>
internal sealed class TimeoutBudgetOptionsValidator : IValidateOptions<TimeoutBudgetHostingOptions>
{
    public ValidateOptionsResult Validate(string? name, TimeoutBudgetHostingOptions options)
    {
        var failures = new List<string>(options.PlanErrors);
        if (options.SweepInterval <= TimeSpan.Zero || options.SweepInterval > BudgetOptions.MaxTimeoutLimit)
        {
            failures.Add($"SweepInterval must be positive and at most 49 days, not {DurationText.Format(options.SweepInterval)}.");
        }

        if (options.ResolvedPlan is { } plan)
        {
            foreach (var violation in plan.Validate())
            {
                failures.Add($"Timeout plan violation at {violation}");
            }
        }
        else if (options.PlanErrors.Count == 0 && options.Plan is null && string.IsNullOrWhiteSpace(options.PlanFile))
        {
            failures.Add("No timeout plan is configured: set TimeoutBudget:Plan (inline) or TimeoutBudget:PlanFile.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
