namespace TimeoutBudget;

/// <summary>A plan that cannot be read: malformed JSON, a bad duration, a missing or unknown property. The message quotes the bad value and says where it is.</summary>
public sealed class BudgetPlanException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, quoting the bad value.</param>
    /// <param name="line">The 1-based line of the bad value, or 0 when unknown.</param>
    /// <param name="column">The 1-based column of the bad value, or 0 when unknown.</param>
    /// <param name="length">The length of the bad token in characters, or 0 when unknown.</param>
    public BudgetPlanException(string message, int line = 0, int column = 0, int length = 0)
        : base(message)
    {
        Line = line;
        Column = column;
        Length = length;
    }

    /// <summary>The 1-based line of the bad value, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>The 1-based column of the bad value, or 0 when unknown.</summary>
    public int Column { get; }

    /// <summary>The length of the bad token in characters, or 0 when unknown.</summary>
    public int Length { get; }
}
