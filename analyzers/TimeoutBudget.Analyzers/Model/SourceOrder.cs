using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Source order (file path, then position, then length): what every report order rests on, so findings never depend on the
/// order in which concurrent actions ran. The path is compared only between files — long paths share long prefixes, and
/// comparing them for every pair of calls in one file was most of the cost of sorting a type's calls (profiled).
/// </summary>
internal sealed class SourceOrder : IComparer<SyntaxNode>
{
    public static readonly SourceOrder Instance = new();

    public int Compare(SyntaxNode? x, SyntaxNode? y)
    {
        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }

        if (x.SyntaxTree != y.SyntaxTree)
        {
            var byPath = string.CompareOrdinal(x.SyntaxTree.FilePath, y.SyntaxTree.FilePath);
            if (byPath != 0)
            {
                return byPath;
            }
        }

        var byStart = x.SpanStart.CompareTo(y.SpanStart);
        return byStart != 0 ? byStart : x.Span.Length.CompareTo(y.Span.Length);
    }
}
