namespace TimeoutBudget;

/// <summary>One declared layer of a <see cref="BudgetPlan"/>: its timeout, the margin and reserve it keeps from its children, its retries and its children.</summary>
public sealed class BudgetPlanNode
{
    private readonly List<BudgetPlanNode> _children = new();

    internal BudgetPlanNode(string layer, TimeSpan timeout, BudgetMargin? margin, TimeSpan reserve, RetrySchedule? retry, BudgetPlanNode? parent)
    {
        Layer = layer;
        Timeout = timeout;
        Margin = margin;
        Reserve = reserve;
        Retry = retry;
        Parent = parent;
        Path = parent is null ? layer : parent.Path + "/" + layer;
    }

    /// <summary>The layer's name, e.g. <c>"sdk"</c>.</summary>
    public string Layer { get; }

    /// <summary>The path from the root, e.g. <c>"orchestrator/transport/sdk"</c>.</summary>
    public string Path { get; }

    /// <summary>The timeout of one attempt of this layer; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> for a layer declared with no timeout.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The margin this layer keeps between its own deadline and its children's, or <see langword="null"/> for <see cref="BudgetMargin.Default"/>.</summary>
    public BudgetMargin? Margin { get; }

    /// <summary>The tail of this layer's time that its children cannot use, kept for a fallback.</summary>
    public TimeSpan Reserve { get; }

    /// <summary>The retry schedule of this layer, or <see langword="null"/> for a single attempt.</summary>
    public RetrySchedule? Retry { get; }

    /// <summary>The enclosing layer, or <see langword="null"/> for the root.</summary>
    public BudgetPlanNode? Parent { get; }

    /// <summary>The layers this one contains.</summary>
    public IReadOnlyList<BudgetPlanNode> Children => _children;

    /// <summary>Whether the layer was declared with no timeout at all.</summary>
    public bool IsUnbounded => Timeout == System.Threading.Timeout.InfiniteTimeSpan;

    /// <summary>The margin in force for this layer's children.</summary>
    public BudgetMargin EffectiveMargin => Margin ?? BudgetMargin.Default;

    /// <summary>The longest this layer can take, every attempt and delay included.</summary>
    public TimeSpan WorstCase => IsUnbounded ? System.Threading.Timeout.InfiniteTimeSpan : Retry?.WorstCase(Timeout) ?? Timeout;

    internal SourcePosition NodePosition { get; set; }

    internal SourcePosition TimeoutPosition { get; set; }

    internal SourcePosition ReservePosition { get; set; }

    /// <summary>Finds a direct child by layer name.</summary>
    /// <param name="layer">The child's layer name (ordinal comparison).</param>
    /// <returns>The child, or <see langword="null"/>.</returns>
    public BudgetPlanNode? FindChild(string layer)
    {
        foreach (var child in _children)
        {
            if (string.Equals(child.Layer, layer, StringComparison.Ordinal))
            {
                return child;
            }
        }

        return null;
    }

    /// <summary>The path and timeout.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => $"{Path} {DurationText.Format(Timeout)}";

    internal void AddChild(BudgetPlanNode child) => _children.Add(child);
}

/// <summary>Where a plan value was written: 1-based line and column and its length, all 0 for a plan built in code.</summary>
internal readonly struct SourcePosition
{
    public SourcePosition(int line, int column, int length)
    {
        Line = line;
        Column = column;
        Length = length;
    }

    public int Line { get; }

    public int Column { get; }

    public int Length { get; }
}
