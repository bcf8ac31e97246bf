namespace TimeoutBudget.Grpc;

/// <summary>How <see cref="BudgetServerInterceptor"/> turns a call's deadline into its root budget.</summary>
public sealed class BudgetGrpcServerOptions
{
    /// <summary>The root layer each call opens, e.g. the service's name. Default <c>"server"</c>.</summary>
    public string Layer { get; set; } = "server";

    /// <summary>Our own longest allowance for a call: a client's deadline can only shorten it; a call with none gets exactly this. Default 30 s.</summary>
    public TimeSpan Maximum { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Settings for the call's root budget; <see cref="BudgetOptions.Default"/> when null.</summary>
    public BudgetOptions? BudgetOptions { get; set; }

    internal BudgetGrpcServerOptions Validated()
    {
        LayerPath.ThrowIfInvalid(Layer, nameof(Layer));
        if (Maximum <= TimeSpan.Zero || Maximum > TimeoutBudget.BudgetOptions.MaxTimeoutLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(Maximum), Maximum,
                $"The maximum of '{Layer}' must be positive and at most {DurationText.Format(TimeoutBudget.BudgetOptions.MaxTimeoutLimit)}: it is our own cap on what clients may ask for.");
        }

        return new BudgetGrpcServerOptions { Layer = Layer, Maximum = Maximum, BudgetOptions = BudgetOptions };
    }
}
