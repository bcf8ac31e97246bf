namespace TimeoutBudget;

/// <summary>One way a plan breaks the rule that inner timeouts expire before the outer ones that contain them.</summary>
public sealed class BudgetViolation
{
    /// <summary>Creates a violation.</summary>
    /// <param name="path">The offending layer's path, e.g. <c>"orchestrator/sdk"</c>.</param>
    /// <param name="message">What is wrong, with the arithmetic.</param>
    /// <param name="line">The 1-based line of the offending value in the plan's JSON, or 0 for a plan built in code.</param>
    /// <param name="column">The 1-based column of the offending value, or 0.</param>
    /// <param name="length">The length of the offending token in characters, or 0.</param>
    public BudgetViolation(string path, string message, int line = 0, int column = 0, int length = 0)
    {
        Path = path ?? throw new ArgumentNullException(nameof(path));
        Message = message ?? throw new ArgumentNullException(nameof(message));
        Line = line;
        Column = column;
        Length = length;
    }

    /// <summary>The offending layer's path, e.g. <c>"orchestrator/sdk"</c>.</summary>
    public string Path { get; }

    /// <summary>What is wrong, with the arithmetic, e.g. <c>"sdk: 3 attempts × 540 s + 1 s + 2 s = 1623 s does not fit in orchestrator 600 s − margin 30 s"</c>.</summary>
    public string Message { get; }

    /// <summary>The 1-based line of the offending value in the plan's JSON, or 0 for a plan built in code.</summary>
    public int Line { get; }

    /// <summary>The 1-based column of the offending value, or 0.</summary>
    public int Column { get; }

    /// <summary>The length of the offending token in characters, or 0.</summary>
    public int Length { get; }

    /// <summary>The path and message, with the position when known.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Line > 0 ? $"{Path} (line {Line}, column {Column}): {Message}" : $"{Path}: {Message}";
}
