namespace TimeoutBudget;

/// <summary>What <see cref="Budget.Child(string, TimeSpan)"/> does when a requested timeout does not fit inside its parent.</summary>
public enum BudgetMode
{
    /// <summary>Grant what fits, keep <see cref="Budget.Requested"/> as asked, and report the misalignment (metric, log, event). The default.</summary>
    Clamp,

    /// <summary>Throw <see cref="BudgetMisalignedException"/>: a misaligned timeout is a bug to fix, not to paper over.</summary>
    Strict,
}
