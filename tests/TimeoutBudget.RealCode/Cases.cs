using System.Text.Json;
using System.Text.Json.Serialization;

namespace TimeoutBudget.RealCode;

/// <summary>One labelled case of a corpus file (JSON lines; schema in the dev corpus README).</summary>
internal sealed record Case
{
    [JsonPropertyName("id")] public string Id { get; init; } = string.Empty;

    [JsonPropertyName("repo")] public string Repo { get; init; } = string.Empty;

    [JsonPropertyName("commit")] public string Commit { get; init; } = string.Empty;

    [JsonPropertyName("path")] public string Path { get; init; } = string.Empty;

    [JsonPropertyName("line")] public int Line { get; init; }

    [JsonPropertyName("expected")] public string Expected { get; init; } = string.Empty;

    [JsonPropertyName("rule")] public string Rule { get; init; } = "none";

    [JsonPropertyName("pattern")] public string? Pattern { get; init; }

    [JsonPropertyName("note")] public string? Note { get; init; }

    /// <summary>The file the case came from, for reports that mix several corpora.</summary>
    [JsonIgnore] public string Source { get; init; } = string.Empty;

    public bool IsExcluded => string.Equals(Expected, "EXCLUDED", StringComparison.OrdinalIgnoreCase);

    public bool IsAligned => string.Equals(Expected, "ALIGNED", StringComparison.OrdinalIgnoreCase);

    public static IEnumerable<Case> Load(string file)
    {
        var number = 0;
        foreach (var line in File.ReadLines(file))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line) || line.TrimStart().StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            Case? parsed;
            try
            {
                parsed = JsonSerializer.Deserialize<Case>(line);
            }
            catch (JsonException exception)
            {
                throw new FormatException($"{file}:{number}: {exception.Message}", exception);
            }

            if (parsed is null || parsed.Id.Length == 0 || parsed.Repo.Length == 0 || parsed.Commit.Length == 0 || parsed.Path.Length == 0)
            {
                throw new FormatException($"{file}:{number}: a case needs id, repo, commit and path.");
            }

            yield return parsed with { Source = System.IO.Path.GetFileName(file) };
        }
    }
}
