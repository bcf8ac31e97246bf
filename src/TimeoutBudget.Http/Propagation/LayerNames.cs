namespace TimeoutBudget.Http;

/// <summary>Early checks of configured names, so a bad one fails at startup rather than on the first request.</summary>
internal static class LayerNames
{
    public static void Check(string? layer, string parameterName)
    {
        if (string.IsNullOrWhiteSpace(layer) || layer.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"The layer name '{layer}' is invalid: it must be non-empty and contain no '/'.", parameterName);
        }
    }

    /// <summary>The last segment of a path such as <c>service-b/transport/service-c</c>.</summary>
    public static string LastSegment(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 || slash == path.Length - 1 ? path : path[(slash + 1)..];
    }
}
