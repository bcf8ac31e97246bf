namespace TimeoutBudget.Tests;

internal static class PlanTestData
{
    public static string PlanPath(string name) => Path.Combine(AppContext.BaseDirectory, "plans", name);

    public static BudgetPlan Load(string name) => BudgetPlan.Load(PlanPath(name));
}
