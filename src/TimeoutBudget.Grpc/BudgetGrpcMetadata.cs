namespace TimeoutBudget.Grpc;

/// <summary>The metadata TimeoutBudget adds to gRPC calls.</summary>
public static class BudgetGrpcMetadata
{
    /// <summary>
    /// The trailer sent with <c>DEADLINE_EXCEEDED</c> when a server-side budget ran out: <c>x-timeout-budget-expired</c>,
    /// the path of the layer whose deadline passed (e.g. <c>inventory/db</c>). The same name as the HTTP response header.
    /// </summary>
    public const string ExpiredTrailer = "x-timeout-budget-expired";

    private const int MaxPathLength = 512;

    /// <summary>Keeps a layer path from a server printable and short; null when there is nothing usable.</summary>
    internal static string? SanitizePath(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        var trimmed = path.Trim();
        if (trimmed.Length > MaxPathLength)
        {
            trimmed = trimmed[..MaxPathLength];
        }

        foreach (var c in trimmed)
        {
            if (c < 0x20 || c > 0x7E)
            {
                return null;
            }
        }

        return trimmed;
    }

    internal static void CheckLayer(string? layer, string parameterName)
    {
        if (string.IsNullOrWhiteSpace(layer) || layer.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"The layer name '{layer}' is invalid: it must be non-empty and contain no '/'.", parameterName);
        }
    }

    internal static string LastSegment(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 || slash == path.Length - 1 ? path : path[(slash + 1)..];
    }
}
