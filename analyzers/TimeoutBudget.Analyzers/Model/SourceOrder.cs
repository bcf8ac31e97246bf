using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Source order (file path, then position, then length): what every report order rests on, so findings never depend on the
/// order in which concurrent actions ran. Items the same place cannot tell apart keep the order they came in.
/// </summary>
internal static class SourceOrder
{
    /// <summary>
    /// The items in source order. Each node's position is read once: a red node's start walks to its first token, and a
    /// comparison sort that read it for every comparison was most of the cost of freezing a type's model (profiled).
    /// </summary>
    /// <param name="then">Orders items at the same place (else they keep the order they came in).</param>
    public static List<T> Sort<T>(IReadOnlyList<T> items, Func<T, SyntaxNode> syntaxOf, IComparer<T>? then = null)
    {
        if (items.Count < 2)
        {
            return new List<T>(items);
        }

        var keys = new Key[items.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            var node = syntaxOf(items[i]);
            var span = node.Span;
            keys[i] = new Key(node.SyntaxTree, span.Start, span.Length, i);
        }

        Array.Sort(keys, new KeyComparer<T>(items, then));
        var sorted = new List<T>(keys.Length);
        foreach (var key in keys)
        {
            sorted.Add(items[key.Index]);
        }

        return sorted;
    }

    private readonly struct Key
    {
        public readonly SyntaxTree Tree;
        public readonly int Start;
        public readonly int Length;
        public readonly int Index;

        public Key(SyntaxTree tree, int start, int length, int index) => (Tree, Start, Length, Index) = (tree, start, length, index);
    }

    private sealed class KeyComparer<T> : IComparer<Key>
    {
        private readonly IReadOnlyList<T> _items;
        private readonly IComparer<T>? _then;

        public KeyComparer(IReadOnlyList<T> items, IComparer<T>? then) => (_items, _then) = (items, then);

        public int Compare(Key x, Key y)
        {
            // Paths only between files: long paths share long prefixes, and most items compared are in one file.
            if (x.Tree != y.Tree)
            {
                var byPath = string.CompareOrdinal(x.Tree.FilePath, y.Tree.FilePath);
                if (byPath != 0)
                {
                    return byPath;
                }
            }

            var order = x.Start.CompareTo(y.Start);
            if (order == 0)
            {
                order = x.Length.CompareTo(y.Length);
            }

            if (order == 0 && _then is not null)
            {
                order = _then.Compare(_items[x.Index], _items[y.Index]);
            }

            return order != 0 ? order : x.Index.CompareTo(y.Index);
        }
    }
}
