namespace TimeoutBudget.Http;

/// <summary>How <see cref="BudgetHandler"/> budgets each outgoing request.</summary>
public sealed class BudgetHttpClientOptions
{
    /// <summary>The layer each request opens, e.g. <c>"transport"</c>. Default <c>"transport"</c>.</summary>
    public string Layer { get; set; } = "transport";

    /// <summary>
    /// What each request asks for. Inside an ambient budget it is clamped to what that budget can give (a child
    /// always expires first); <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> (the default) takes whatever fits.
    /// With no ambient budget it is a root timeout, and infinite is capped by <see cref="BudgetOptions.MaxTimeout"/>.
    /// </summary>
    public TimeSpan Timeout { get; set; } = System.Threading.Timeout.InfiniteTimeSpan;

    /// <summary>Which headers carry the remaining budget downstream. Default <see cref="BudgetHeaderKinds.Budget"/> (<c>x-timeout-budget-ms</c>).</summary>
    public BudgetHeaderKinds Headers { get; set; } = BudgetHeaderKinds.Budget;

    /// <summary>Settings for the root a request opens when no budget is ambient; <see cref="BudgetOptions.Default"/> when null.</summary>
    public BudgetOptions? RootOptions { get; set; }

    /// <summary>
    /// Whether a <c>504</c> carrying <see cref="BudgetHeaders.Expired"/> is turned into a <see cref="BudgetExhaustedException"/>
    /// naming the downstream layer (path <c>{this request's path}/{downstream path}</c>). Default <see langword="true"/>;
    /// when false the response is returned as it came.
    /// </summary>
    public bool ThrowOnDownstreamExpiry { get; set; } = true;

    internal BudgetHttpClientOptions Validated()
    {
        LayerPath.ThrowIfInvalid(Layer, nameof(Layer));
        if (Timeout < TimeSpan.Zero && Timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, $"The timeout of '{Layer}' must not be negative (use Timeout.InfiniteTimeSpan for 'whatever fits').");
        }

        if ((Headers & ~BudgetHeaderKinds.All) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Headers), Headers, "Unknown header kinds.");
        }

        return new BudgetHttpClientOptions
        {
            Layer = Layer,
            Timeout = Timeout,
            Headers = Headers,
            RootOptions = RootOptions,
            ThrowOnDownstreamExpiry = ThrowOnDownstreamExpiry,
        };
    }
}
