namespace TimeoutBudget.Analyzers;

// The package ships one TimeoutAnalyzer for TB0001–TB0006 and TB0008 (one model per compilation). Tests look at one rule family at a
// time, so that a test about TB0004 is not also a test of every other finding its sample happens to contain.

/// <summary>TB0001, TB0002, TB0003 and their configuration-file form TB0008 only.</summary>
public sealed class NestedTimeoutAnalyzer : TimeoutAnalyzer
{
    public NestedTimeoutAnalyzer()
        : base(DiagnosticIds.InnerTimeoutNotShorter, DiagnosticIds.RetryScheduleDoesNotFit, DiagnosticIds.MarginTooSmall, DiagnosticIds.ConfiguredTimeoutsMisaligned)
    {
    }
}

/// <summary>TB0004 only.</summary>
public sealed class AbandonedWorkAnalyzer : TimeoutAnalyzer
{
    public AbandonedWorkAnalyzer()
        : base(DiagnosticIds.TimedWaitAbandonsWork)
    {
    }
}

/// <summary>TB0005 only.</summary>
public sealed class UnboundedOperationAnalyzer : TimeoutAnalyzer
{
    public UnboundedOperationAnalyzer()
        : base(DiagnosticIds.OperationWithoutDeadline)
    {
    }
}

/// <summary>TB0006 only.</summary>
public sealed class BudgetMisuseAnalyzer : TimeoutAnalyzer
{
    public BudgetMisuseAnalyzer()
        : base(DiagnosticIds.BudgetMisuse)
    {
    }
}
