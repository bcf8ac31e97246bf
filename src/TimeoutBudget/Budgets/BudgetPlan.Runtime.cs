namespace TimeoutBudget;

public sealed partial class BudgetPlan
{
    /// <summary>The largest plan file <see cref="Load"/> reads: 4 MiB. A timeout plan is a few kilobytes.</summary>
    public const long MaxFileBytes = 4 * 1024 * 1024;

    /// <summary>Reads a plan from a JSON file.</summary>
    /// <param name="path">The file's path.</param>
    /// <returns>The plan.</returns>
    /// <exception cref="BudgetPlanException">The file is malformed; the message names the file, line and column.</exception>
    /// <exception cref="IOException">The file cannot be read or is larger than <see cref="MaxFileBytes"/>.</exception>
    public static BudgetPlan Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (info.Exists && info.Length > MaxFileBytes)
        {
            throw new IOException($"The plan file '{path}' is {info.Length} bytes; a plan may be at most {MaxFileBytes} bytes.");
        }

        var json = File.ReadAllText(path);
        try
        {
            return Parse(json);
        }
        catch (BudgetPlanException exception)
        {
            throw new BudgetPlanException($"{path}: {exception.Message}", exception.Line, exception.Column, exception.Length);
        }
    }

    /// <summary>
    /// Opens the root layer as a runtime budget. Its children are then opened by name with <see cref="Budget.Child(string)"/>,
    /// so one set of numbers drives both configuration and runtime.
    /// </summary>
    /// <param name="options">Shared settings; the plan's margins are not applied at run time unless set here.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>The root budget, now <see cref="Budget.Current"/>.</returns>
    /// <exception cref="InvalidOperationException">The root layer has no timeout.</exception>
    public Budget Start(BudgetOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (Root.IsUnbounded)
        {
            throw new InvalidOperationException($"The plan's root '{Root.Layer}' has no timeout; a budget needs one.");
        }

        return Budget.OpenRoot(Root.Layer, Root.WorstCase, Root.WorstCase, options, Root, cancellationToken);
    }

    /// <summary>Throws when <see cref="Validate"/> finds any violation, listing every one.</summary>
    /// <returns>This plan, for chaining.</returns>
    /// <exception cref="BudgetPlanException">The plan is misaligned.</exception>
    public BudgetPlan EnsureValid()
    {
        var violations = Validate();
        if (violations.Count > 0)
        {
            throw new BudgetPlanException($"The timeout plan has {violations.Count} violation(s):{Environment.NewLine}" +
                string.Join(Environment.NewLine, violations.Select(v => "  - " + v)));
        }

        return this;
    }
}
