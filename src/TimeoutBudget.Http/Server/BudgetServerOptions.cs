namespace TimeoutBudget.Http;

/// <summary>How <see cref="BudgetMiddleware"/> turns an incoming request into a root budget.</summary>
public sealed class BudgetServerOptions
{
    /// <summary>The root layer each request opens, e.g. the service's name. Default <c>"server"</c>.</summary>
    public string Layer { get; set; } = "server";

    /// <summary>
    /// Our own longest allowance for a request: an announced timeout can only shorten it, and a request that announces
    /// none gets exactly this. Default 30 s.
    /// </summary>
    public TimeSpan Maximum { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Which incoming headers are honoured; the shortest valid one wins. Default <see cref="BudgetHeaderKinds.All"/>.</summary>
    public BudgetHeaderKinds Headers { get; set; } = BudgetHeaderKinds.All;

    /// <summary>Settings for the request's root budget (clock, margin, monitor, logging); <see cref="BudgetOptions.Default"/> when null.</summary>
    public BudgetOptions? BudgetOptions { get; set; }

    /// <summary>The status sent when the budget runs out before the response starts. Default 504 (Gateway Timeout).</summary>
    public int ExpiredStatusCode { get; set; } = 504;

    internal BudgetServerOptions Validated()
    {
        LayerPath.ThrowIfInvalid(Layer, nameof(Layer));
        if (Maximum <= TimeSpan.Zero || Maximum > TimeoutBudget.BudgetOptions.MaxTimeoutLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(Maximum), Maximum,
                $"The maximum of '{Layer}' must be positive and at most {DurationText.Format(TimeoutBudget.BudgetOptions.MaxTimeoutLimit)}: it is our own cap on what callers may ask for.");
        }

        if (ExpiredStatusCode is < 400 or > 599)
        {
            throw new ArgumentOutOfRangeException(nameof(ExpiredStatusCode), ExpiredStatusCode, "The expiry status must be an HTTP error status (4xx or 5xx).");
        }

        if ((Headers & ~BudgetHeaderKinds.All) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Headers), Headers, "Unknown header kinds.");
        }

        return new BudgetServerOptions
        {
            Layer = Layer,
            Maximum = Maximum,
            Headers = Headers,
            BudgetOptions = BudgetOptions,
            ExpiredStatusCode = ExpiredStatusCode,
        };
    }
}
