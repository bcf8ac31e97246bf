namespace TimeoutBudget.Hosting;

/// <summary>
/// The <c>"TimeoutBudget"</c> configuration section: the timeout plan (inline or as a file), the runtime mode and the
/// abandoned-work sweep. Validated on start, so a misaligned plan fails startup listing every violation.
/// </summary>
public sealed class TimeoutBudgetHostingOptions
{
    /// <summary>The plan, written inline in configuration; see <see cref="BudgetPlanLayerOptions"/>.</summary>
    public BudgetPlanLayerOptions? Plan { get; set; }

    /// <summary>A plan JSON file (the format of <see cref="BudgetPlan.Parse"/>), used when <see cref="Plan"/> is not set.</summary>
    public string? PlanFile { get; set; }

    /// <summary>What a child that does not fit does at run time. Default <see cref="BudgetMode.Clamp"/>.</summary>
    public BudgetMode Mode { get; set; } = BudgetMode.Clamp;

    /// <summary>The time between sweeps for overdue work; positive, at most 49 days. Default 30 s.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Called once for each piece of work found past its deadline, e.g. to mark a run "timed out" (set in code).</summary>
    public Action<OverdueWork>? OnOverdue { get; set; }

    /// <summary>The plan read from <see cref="Plan"/> or <see cref="PlanFile"/>, once the options are built.</summary>
    internal BudgetPlan? ResolvedPlan { get; set; }

    /// <summary>Problems found while reading the plan (before any alignment check).</summary>
    internal List<string> PlanErrors { get; } = new();
}

/// <summary>One layer of a plan written in configuration: the same fields as the plan's JSON form.</summary>
public sealed class BudgetPlanLayerOptions
{
    /// <summary>The layer's name, e.g. <c>"proxy"</c>.</summary>
    public string? Layer { get; set; }

    /// <summary>The layer's timeout (per attempt when it retries), e.g. <c>"120s"</c>, or <c>"none"</c>.</summary>
    public string? Timeout { get; set; }

    /// <summary>The margin it keeps from its children, e.g. <c>"5%"</c> or <c>"2s"</c>.</summary>
    public string? Margin { get; set; }

    /// <summary>The tail its children cannot use, kept for a fallback, e.g. <c>"2s"</c>.</summary>
    public string? Reserve { get; set; }

    /// <summary>Its retry schedule, if it retries.</summary>
    public BudgetPlanRetryOptions? Retry { get; set; }

    /// <summary>The layers it contains.</summary>
    public List<BudgetPlanLayerOptions> Children { get; set; } = new();
}

/// <summary>A retry schedule written in configuration.</summary>
public sealed class BudgetPlanRetryOptions
{
    /// <summary>Every attempt including the first.</summary>
    public int MaxAttempts { get; set; } = 1;

    /// <summary>The base delay before a retry, e.g. <c>"1s"</c>.</summary>
    public string? Delay { get; set; }

    /// <summary>How the delay grows. Default constant.</summary>
    public RetryBackoff Backoff { get; set; } = RetryBackoff.Constant;

    /// <summary>A cap on any single delay, e.g. <c>"10s"</c>.</summary>
    public string? MaxDelay { get; set; }
}
