using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Each file's text as one string, made once per compilation: the per-type gate searches a type's span inside it instead of
/// copying every type's text out of the file (a type per symbol-start action, nested types again inside their parents).
/// </summary>
internal sealed class FileTexts
{
    private readonly ConcurrentDictionary<SyntaxTree, string> _texts = new();

    public string Of(SyntaxTree tree, CancellationToken cancellationToken) =>
        _texts.GetOrAdd(tree, t => t.GetText(cancellationToken).ToString());
}
