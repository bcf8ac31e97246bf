namespace TimeoutBudget;

/// <summary>
/// Layer names and paths as integrations handle them: checked early when configured, and sanitized when a peer sends
/// one back (a response header or gRPC trailer naming the layer that ran out).
/// </summary>
public static class LayerPath
{
    /// <summary>The longest path accepted from a peer; longer ones are cut.</summary>
    public const int MaxRemotePathLength = 512;

    /// <summary>Throws when a configured layer name would be refused by <see cref="Budget.Start"/>: empty, containing '/' or a control character, or too long.</summary>
    /// <param name="layer">The layer name.</param>
    /// <param name="parameterName">The name to report in the exception.</param>
    /// <exception cref="ArgumentException">The name is invalid.</exception>
    public static void ThrowIfInvalid(string? layer, string parameterName)
    {
        var error = BudgetPlan.CheckLayerName(layer);
        if (error is not null)
        {
            throw new ArgumentException(error + ".", parameterName);
        }
    }

    /// <summary>The last segment of a path: <c>"client"</c> for <c>"orchestrator/transport/client"</c>.</summary>
    /// <param name="path">A layer path.</param>
    /// <returns>The last non-empty segment, or the path itself.</returns>
    public static string LastSegment(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var slash = path.LastIndexOf('/');
        return slash < 0 || slash == path.Length - 1 ? path : path[(slash + 1)..];
    }

    /// <summary>A path received from a peer, trimmed and cut to <see cref="MaxRemotePathLength"/>; null when empty or not printable ASCII.</summary>
    /// <param name="path">The untrusted path.</param>
    /// <returns>The path safe to log and put in an exception, or <see langword="null"/>.</returns>
    public static string? SanitizeRemote(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        var trimmed = path.Trim();
        if (trimmed.Length > MaxRemotePathLength)
        {
            trimmed = trimmed[..MaxRemotePathLength];
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
}
