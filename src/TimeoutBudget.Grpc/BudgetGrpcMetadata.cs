namespace TimeoutBudget.Grpc;

/// <summary>The metadata TimeoutBudget adds to gRPC calls.</summary>
public static class BudgetGrpcMetadata
{
    /// <summary>
    /// The trailer sent with <c>DEADLINE_EXCEEDED</c> when a server-side budget ran out: <c>x-timeout-budget-expired</c>,
    /// the path of the layer whose deadline passed (e.g. <c>inventory/db</c>). The same name as the HTTP response header.
    /// </summary>
    public const string ExpiredTrailer = "x-timeout-budget-expired";
}
