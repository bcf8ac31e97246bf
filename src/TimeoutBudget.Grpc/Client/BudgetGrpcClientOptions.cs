namespace TimeoutBudget.Grpc;

/// <summary>How <see cref="BudgetClientInterceptor"/> budgets calls.</summary>
public sealed class BudgetGrpcClientOptions
{
    /// <summary>The name a call's own deadline is reported under, below the ambient budget's path. Default <c>"grpc"</c>.</summary>
    public string Layer { get; set; } = "grpc";

    /// <summary>
    /// Whether a unary call that fails with <c>DEADLINE_EXCEEDED</c> because of the budget's deadline, or with the server's
    /// <see cref="BudgetGrpcMetadata.ExpiredTrailer"/>, throws a <see cref="BudgetExhaustedException"/> naming the layer
    /// (the <see cref="global::Grpc.Core.RpcException"/> is its inner exception). Default <see langword="true"/>.
    /// </summary>
    public bool TranslateDeadlineExceeded { get; set; } = true;

    internal BudgetGrpcClientOptions Validated()
    {
        LayerPath.ThrowIfInvalid(Layer, nameof(Layer));
        return new BudgetGrpcClientOptions { Layer = Layer, TranslateDeadlineExceeded = TranslateDeadlineExceeded };
    }
}
