using System.Text.RegularExpressions;

namespace TimeoutBudget.PackageTests;

/// <summary>
/// One C# code block from README.md or docs/, with what the comment line before it declares:
/// <c>&lt;!-- snippet | given: HttpClient http, Uri url | reports: TB0002 --&gt;</c>. <c>given</c> names what the block
/// uses without declaring (it becomes the parameters of the method the block is compiled in); <c>reports</c> marks a
/// "bad" example on a rule page and names the one rule it must produce. The comment is invisible where the page is rendered.
/// </summary>
public sealed partial record DocSnippet(string Document, int Line, string Code, string Given, string? Reports)
{
    /// <summary>A stable name for the generated file and the test case: the document and the line of its opening fence.</summary>
    public string Name => $"{Document.Replace('/', '_').Replace(".md", string.Empty, StringComparison.Ordinal)}_L{Line}";

    public bool IsRulePage => Document.StartsWith("docs/rules/", StringComparison.Ordinal);

    /// <summary>The rule a rule page documents, from its file name (docs/rules/TB0002.md → TB0002).</summary>
    public string? PageRule => IsRulePage ? Path.GetFileNameWithoutExtension(Document) : null;

    public override string ToString() => $"{Document}:{Line}";

    /// <summary>Every C# block in README.md and docs/ (recursively), in document order.</summary>
    public static IReadOnlyList<DocSnippet> ReadAll(string repositoryRoot)
    {
        var documents = new[] { Path.Combine(repositoryRoot, "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(repositoryRoot, "docs"), "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
        return documents.SelectMany(d => Read(Path.GetRelativePath(repositoryRoot, d).Replace('\\', '/'), File.ReadAllLines(d))).ToList();
    }

    /// <summary>The blocks of one document. A C# block without its snippet comment is an error: every one is compiled.</summary>
    public static IEnumerable<DocSnippet> Read(string document, IReadOnlyList<string> lines)
    {
        for (var i = 0; i < lines.Count; i++)
        {
            if (!CSharpFence().IsMatch(lines[i]))
            {
                continue;
            }

            var marker = i > 0 ? SnippetComment().Match(lines[i - 1]) : Match.Empty;
            if (!marker.Success)
            {
                throw new FormatException($"{document}:{i + 1}: a C# block needs a '<!-- snippet -->' comment on the line before it, so that it is compiled as a test.");
            }

            var end = i + 1;
            while (end < lines.Count && lines[end].Trim() != "```")
            {
                end++;
            }

            if (end == lines.Count)
            {
                throw new FormatException($"{document}:{i + 1}: the C# block is never closed.");
            }

            string given = string.Empty;
            string? reports = null;
            foreach (var part in marker.Groups["parts"].Value.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (part.StartsWith("given:", StringComparison.Ordinal))
                {
                    given = part["given:".Length..].Trim();
                }
                else if (part.StartsWith("reports:", StringComparison.Ordinal))
                {
                    reports = part["reports:".Length..].Trim();
                }
                else
                {
                    throw new FormatException($"{document}:{i}: unknown snippet setting '{part}'; use 'given: …' or 'reports: TBxxxx'.");
                }
            }

            yield return new DocSnippet(document, i + 1, string.Join('\n', lines.Skip(i + 1).Take(end - i - 1)), given, reports);
            i = end;
        }
    }

    [GeneratedRegex(@"^\s*```\s*(csharp|cs|c#)\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex CSharpFence();

    [GeneratedRegex(@"^\s*<!--\s*snippet(?<parts>(\s*\|[^|]*?)*)\s*-->\s*$")]
    private static partial Regex SnippetComment();
}
