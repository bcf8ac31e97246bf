namespace TimeoutBudget.Http;

/// <summary>Which propagation headers to read or write. Several may be combined.</summary>
[Flags]
public enum BudgetHeaderKinds
{
    /// <summary>No header.</summary>
    None = 0,

    /// <summary>Our own header for plain HTTP, <see cref="BudgetHeaders.Remaining"/> (<c>x-timeout-budget-ms</c>): whole milliseconds left.</summary>
    Budget = 1,

    /// <summary><see cref="BudgetHeaders.GrpcTimeout"/> (<c>grpc-timeout</c>) in its wire format, e.g. <c>1500m</c>; see <see cref="GrpcTimeoutFormat"/>.</summary>
    GrpcTimeout = 2,

    /// <summary><see cref="BudgetHeaders.EnvoyExpectedTimeout"/> (<c>x-envoy-expected-rq-timeout-ms</c>): whole milliseconds, as Envoy sends upstream.</summary>
    Envoy = 4,

    /// <summary>Every header above.</summary>
    All = Budget | GrpcTimeout | Envoy,
}
