namespace TimeoutBudget.Cli;

/// <summary>One plan file as the CLI sees it: parsed with its violations, or the reason it could not be read.</summary>
internal sealed record PlanFile(string Path, BudgetPlan? Plan, IReadOnlyList<BudgetViolation> Violations, BudgetPlanException? ParseError, string? IoError)
{
    public bool IsReadable => Plan is not null;

    public static PlanFile Read(FileInfo file)
    {
        var path = file.ToString();
        try
        {
            var plan = BudgetPlan.Parse(ReadText(file));
            return new PlanFile(path, plan, plan.Validate(), null, null);
        }
        catch (BudgetPlanException exception)
        {
            return new PlanFile(path, null, [], exception, null);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return new PlanFile(path, null, [], null, exception.Message);
        }
    }

    private static string ReadText(FileInfo file)
    {
        if (!file.Exists)
        {
            throw new FileNotFoundException($"No plan file at '{file}'.");
        }

        if (file.Length > BudgetPlan.MaxFileBytes)
        {
            throw new IOException($"'{file}' is {file.Length} bytes; a plan may be at most {BudgetPlan.MaxFileBytes} bytes.");
        }

        return File.ReadAllText(file.FullName);
    }
}
