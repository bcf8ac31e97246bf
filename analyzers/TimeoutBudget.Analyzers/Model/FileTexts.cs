using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Each file's text as one string, made once per compilation: the per-type gate searches a type's span inside it instead of
/// copying every type's text out of the file (a type per symbol-start action, nested types again inside their parents).
/// </summary>
internal sealed class FileTexts
{
    private readonly ConcurrentDictionary<SyntaxTree, string> _texts;

    public FileTexts(int fileCount) => _texts = PerFile<string>(fileCount);

    /// <summary>
    /// A per-file cache that every analysis thread adds to at once: sized for every file up front, so it never resizes (a
    /// resize takes all of its locks), and with more locks than a build machine has cores. A cold build spent about a tenth of a second of
    /// samples in each such cache waiting for a lock held by a thread that a garbage collection had stopped (profiled).
    /// </summary>
    public static ConcurrentDictionary<SyntaxTree, T> PerFile<T>(int fileCount) =>
        new(concurrencyLevel: 16, capacity: Math.Max(fileCount, 31));

    public string Of(SyntaxTree tree, CancellationToken cancellationToken) =>
        _texts.TryGetValue(tree, out var text) ? text : _texts.GetOrAdd(tree, t => t.GetText(cancellationToken).ToString());
}
