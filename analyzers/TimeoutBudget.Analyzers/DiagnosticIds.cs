namespace TimeoutBudget.Analyzers;

/// <summary>The rule IDs. They are part of the public contract (suppressions, .editorconfig), so they never change meaning.</summary>
public static class DiagnosticIds
{
    public const string InnerTimeoutNotShorter = "TB0001";
    public const string RetryScheduleDoesNotFit = "TB0002";
    public const string MarginTooSmall = "TB0003";
    public const string TimedWaitAbandonsWork = "TB0004";
    public const string OperationWithoutDeadline = "TB0005";
    public const string BudgetMisuse = "TB0006";
    public const string InvalidTimeoutPlan = "TB0007";
    public const string ConfiguredTimeoutsMisaligned = "TB0008";
}
