using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>Roots are symbols (compared as symbols) or, for objects never stored anywhere, the creating operation itself.</summary>
internal sealed class RootComparer : IEqualityComparer<object>
{
    public static readonly RootComparer Instance = new();

    public new bool Equals(object? x, object? y) =>
        x is ISymbol left && y is ISymbol right ? SymbolEqualityComparer.Default.Equals(left, right) : ReferenceEquals(x, y);

    public int GetHashCode(object obj) =>
        obj is ISymbol symbol ? SymbolEqualityComparer.Default.GetHashCode(symbol) : System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
}
