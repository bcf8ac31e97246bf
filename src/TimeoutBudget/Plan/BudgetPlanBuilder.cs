namespace TimeoutBudget;

/// <summary>Builds one layer of a <see cref="BudgetPlan"/> in code; see <see cref="BudgetPlan.Create"/>.</summary>
public sealed class BudgetPlanBuilder
{
    private readonly string _layer;
    private readonly TimeSpan _timeout;
    private readonly List<BudgetPlanBuilder> _children = new();
    private BudgetMargin? _margin;
    private TimeSpan _reserve;
    private RetrySchedule? _retry;

    internal BudgetPlanBuilder(string layer, TimeSpan timeout)
    {
        var nameError = BudgetPlan.CheckLayerName(layer);
        if (nameError is not null)
        {
            throw new ArgumentException(nameError + ".", nameof(layer));
        }

        if (timeout != Timeout.InfiniteTimeSpan && (timeout < TimeSpan.Zero || timeout > DurationText.MaxValue))
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, $"The timeout of {layer} must be zero or positive and at most 365 days, or Timeout.InfiniteTimeSpan for a layer with none.");
        }

        _layer = layer;
        _timeout = timeout;
    }

    /// <summary>Sets the margin this layer keeps between its deadline and its children's (default <see cref="BudgetMargin.Default"/>).</summary>
    /// <param name="margin">The margin.</param>
    /// <returns>This builder.</returns>
    public BudgetPlanBuilder WithMargin(BudgetMargin margin)
    {
        _margin = margin ?? throw new ArgumentNullException(nameof(margin));
        return this;
    }

    /// <summary>Keeps a tail of this layer's time that its children cannot use, for a fallback.</summary>
    /// <param name="reserve">The reserve; zero or positive.</param>
    /// <returns>This builder.</returns>
    public BudgetPlanBuilder WithReserve(TimeSpan reserve)
    {
        if (reserve < TimeSpan.Zero || reserve > DurationText.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(reserve), reserve, "A reserve must be zero or positive and at most 365 days.");
        }

        _reserve = reserve;
        return this;
    }

    /// <summary>Declares that this layer is retried; its timeout is then per attempt.</summary>
    /// <param name="retry">The schedule.</param>
    /// <returns>This builder.</returns>
    public BudgetPlanBuilder WithRetry(RetrySchedule retry)
    {
        _retry = retry ?? throw new ArgumentNullException(nameof(retry));
        return this;
    }

    /// <summary>Adds a child layer.</summary>
    /// <param name="layer">The child's name, unique among its siblings.</param>
    /// <param name="timeout">The child's timeout (per attempt when it retries).</param>
    /// <param name="configure">Configures the child.</param>
    /// <returns>This builder (the parent), so siblings can be chained.</returns>
    public BudgetPlanBuilder Child(string layer, TimeSpan timeout, Action<BudgetPlanBuilder>? configure = null)
    {
        var child = new BudgetPlanBuilder(layer, timeout);
        foreach (var sibling in _children)
        {
            if (string.Equals(sibling._layer, layer, StringComparison.Ordinal))
            {
                throw new ArgumentException($"{_layer} already has a child named \"{layer}\"; sibling names must differ so paths are unique.", nameof(layer));
            }
        }

        configure?.Invoke(child);
        _children.Add(child);
        return this;
    }

    internal BudgetPlanNode BuildNode(BudgetPlanNode? parent)
    {
        var node = new BudgetPlanNode(_layer, _timeout, _margin, _reserve, _retry, parent);
        foreach (var child in _children)
        {
            node.AddChild(child.BuildNode(node));
        }

        return node;
    }
}
