namespace TimeoutBudget.Tests;

/// <summary>Runs trivial work under a budget and says whether the budget let it start.</summary>
internal static class WorkProbe
{
    public static async Task<(bool Started, BudgetResult<int> Result)> TryStartAsync(Budget budget)
    {
        var started = false;
        var result = await budget.TryRunAsync((_, _) =>
        {
            started = true;
            return new ValueTask<int>(1);
        }, 0);
        return (started, result);
    }
}
