using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

internal enum TokenKind
{
    /// <summary>No token: omitted, <c>default</c> or <c>CancellationToken.None</c>.</summary>
    None,

    /// <summary>The token of a token source or budget this type creates.</summary>
    FromSource,

    /// <summary>Anything else (a parameter, a property): bounded or not, nobody can tell here.</summary>
    Unknown,
}

internal static class Tokens
{
    public static TokenKind Classify(IArgumentOperation argument, KnownTypes types, out object? source)
    {
        source = null;
        if (argument.ArgumentKind == ArgumentKind.DefaultValue)
        {
            return TokenKind.None;
        }

        return Classify(argument.Value, types, out source, 0);
    }

    /// <summary>The token arguments of a call, and what kind of token each one is.</summary>
    public static IEnumerable<(IArgumentOperation Argument, TokenKind Kind, object? Source)> Arguments(IInvocationOperation invocation, KnownTypes types)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (types.IsCancellationToken(argument.Parameter?.Type))
            {
                var kind = Classify(argument, types, out var source);
                yield return (argument, kind, source);
            }
        }
    }

    /// <summary>Whether the callee has a token parameter at all (whatever the caller passed to it).</summary>
    public static bool CanTakeOne(IInvocationOperation invocation, KnownTypes types)
    {
        // Through the arguments (one per parameter, defaults included): a method symbol's Parameters is a new array per read.
        foreach (var argument in invocation.Arguments)
        {
            if (types.IsCancellationToken(argument.Parameter?.Type))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the call receives a token that might cancel it.</summary>
    public static bool ReceivesAnyToken(IInvocationOperation invocation, KnownTypes types) =>
        Arguments(invocation, types).Any(token => token.Kind != TokenKind.None);

    /// <summary>
    /// How a call that received no token could have received one: its own token parameter, or an overload of the same name that
    /// takes the same parameters plus a trailing token. Returns null when the callee cannot take a token.
    /// </summary>
    public static string? HowToPassToken(IInvocationOperation invocation, KnownTypes types)
    {
        foreach (var token in Arguments(invocation, types))
        {
            if (token.Kind != TokenKind.None)
            {
                return null;
            }

            if (token.Argument.ArgumentKind == ArgumentKind.DefaultValue)
            {
                return "Named:" + token.Argument.Parameter!.Name;
            }

            return "Replace:" + token.Argument.Syntax.SpanStart.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var method = invocation.TargetMethod;
        var parameters = method.Parameters;
        foreach (var candidate in method.ContainingType.GetMembers(method.Name))
        {
            if (candidate is IMethodSymbol overload && overload.Parameters.Length == parameters.Length + 1
                && overload.IsStatic == method.IsStatic && overload.TypeParameters.Length == method.TypeParameters.Length
                && types.IsCancellationToken(overload.Parameters[parameters.Length].Type)
                && parameters.Select(p => p.Type.OriginalDefinition).SequenceEqual(overload.Parameters.Take(parameters.Length).Select(p => p.Type.OriginalDefinition), SymbolEqualityComparer.Default))
            {
                return "Append";
            }
        }

        return null;
    }

    public static TokenKind ClassifyValue(IOperation value, KnownTypes types, out object? source) => Classify(value, types, out source, 0);

    private static TokenKind Classify(IOperation value, KnownTypes types, out object? source, int depth)
    {
        source = null;
        value = DurationEvaluator.SkipConversions(value);
        switch (value)
        {
            case IDefaultValueOperation:
            case ILiteralOperation:
            case IObjectCreationOperation { Arguments.Length: 0 }:
                return TokenKind.None;
            case IPropertyReferenceOperation { Property.Name: "None", Property.IsStatic: true } none when types.IsCancellationToken(none.Type):
                return TokenKind.None;
            case IPropertyReferenceOperation { Property.Name: "Token" } token when token.Instance is { } owner
                && (KnownTypes.IsOrDerivesFrom(owner.Type, types.CancellationTokenSource) || KnownTypes.IsOrDerivesFrom(owner.Type, types.Budget)):
                source = Roots.Of(owner);
                return source is null ? TokenKind.Unknown : TokenKind.FromSource;
            case ILocalReferenceOperation local when depth < 8 && DurationEvaluator.SingleAssignedValue(local.Local, value) is { } initializer:
                return Classify(initializer, types, out source, depth + 1);
            default:
                return TokenKind.Unknown;
        }
    }
}
