using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>The request timeout that bounds an endpoint handler, and how it is written.</summary>
internal readonly struct RequestTimeout
{
    public RequestTimeout(Duration duration, string description)
    {
        Duration = duration;
        Description = description;
    }

    public Duration Duration { get; }

    public string Description { get; }
}

/// <summary>
/// ASP.NET Core request timeouts (.NET 8 <c>AddRequestTimeouts</c>/<c>UseRequestTimeouts</c>) as the outer bound of what an
/// endpoint calls: <c>[RequestTimeout(ms)]</c> or <c>[RequestTimeout("policy")]</c> on an action or its controller,
/// <c>WithRequestTimeout(…)</c> on a minimal-API endpoint, and the default policy; <c>[DisableRequestTimeout]</c> turns it off.
/// The middleware cancels <c>HttpContext.RequestAborted</c> at that deadline, so the bound reaches calls that receive the request
/// token (a handler's <c>CancellationToken</c> parameter or <c>RequestAborted</c>) or a token source linked to it.
/// </summary>
internal sealed class RequestTimeouts
{
    private static readonly HashSet<string> MapMethods = new(StringComparer.Ordinal) { "MapGet", "MapPost", "MapPut", "MapDelete", "MapPatch", "MapMethods", "Map" };

    private readonly Declarations _declarations;
    private readonly DurationEvaluator _evaluator;
    private readonly INamedTypeSymbol _attribute;
    private readonly INamedTypeSymbol? _disable;
    private readonly INamedTypeSymbol? _controllerBase;
    private readonly INamedTypeSymbol? _httpContext;
    private readonly Lazy<Policies> _policies;
    private readonly ConcurrentDictionary<ISymbol, RequestTimeout?> _handlers = new(SymbolEqualityComparer.Default);

    private RequestTimeouts(TypeLookup lookup, INamedTypeSymbol attribute, Declarations declarations, DurationEvaluator evaluator)
    {
        _attribute = attribute;
        _declarations = declarations;
        _evaluator = evaluator;
        _disable = lookup.Find("Microsoft.AspNetCore.Http.Timeouts.DisableRequestTimeoutAttribute", "Microsoft.AspNetCore.Http");
        _controllerBase = lookup.Find("Microsoft.AspNetCore.Mvc.ControllerBase", "Microsoft.AspNetCore.Mvc.Core");
        _httpContext = lookup.Find("Microsoft.AspNetCore.Http.HttpContext", "Microsoft.AspNetCore.Http.Abstractions");
        _policies = new Lazy<Policies>(FindPolicies);
    }

    /// <summary>Null when the compilation does not reference ASP.NET Core 8's request timeouts.</summary>
    public static RequestTimeouts? Create(TypeLookup lookup, Declarations declarations, DurationEvaluator evaluator) =>
        lookup.Find("Microsoft.AspNetCore.Http.Timeouts.RequestTimeoutAttribute", "Microsoft.AspNetCore.Http") is { } attribute
            ? new RequestTimeouts(lookup, attribute, declarations, evaluator)
            : null;

    /// <summary>The request timeout of the endpoint handler <paramref name="operation"/> is written in, if it is one and has one.</summary>
    public RequestTimeout? For(IOperation operation, out ISymbol? handler)
    {
        handler = null;
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            if (current is IAnonymousFunctionOperation lambda)
            {
                handler = lambda.Symbol;
                return _handlers.GetOrAdd(lambda.Symbol, _ => ForMinimalApi(lambda));
            }
        }

        if (operation.SemanticModel?.GetEnclosingSymbol(operation.Syntax.SpanStart) is IMethodSymbol { MethodKind: MethodKind.Ordinary } method)
        {
            handler = method;
            return _handlers.GetOrAdd(method, _ => ForAction(method));
        }

        return null;
    }

    /// <summary>Whether the token is the request's: the handler's own <c>CancellationToken</c> parameter or <c>HttpContext.RequestAborted</c>.</summary>
    public bool IsRequestToken(IOperation token, ISymbol handler, int depth = 0)
    {
        token = DurationEvaluator.SkipConversions(token);
        return token switch
        {
            IParameterReferenceOperation parameter => SymbolEqualityComparer.Default.Equals(parameter.Parameter.ContainingSymbol, handler),
            IPropertyReferenceOperation { Property.Name: "RequestAborted" } aborted => KnownTypes.IsOrDerivesFrom(aborted.Property.ContainingType, _httpContext),
            ILocalReferenceOperation local when depth < 4 && DurationEvaluator.SingleAssignedValue(local.Local, token) is { } value => IsRequestToken(value, handler, depth + 1),
            _ => false,
        };
    }

    private RequestTimeout? ForMinimalApi(IAnonymousFunctionOperation lambda)
    {
        IOperation current = lambda;
        while (current.Parent is IDelegateCreationOperation or IConversionOperation)
        {
            current = current.Parent;
        }

        if (current.Parent is not IArgumentOperation { Parent: IInvocationOperation map } || !MapMethods.Contains(map.TargetMethod.Name))
        {
            return null;
        }

        // app.MapGet(…).WithName(…).WithRequestTimeout(…): each fluent call takes the previous one as its receiver.
        for (IOperation endpoint = map; ;)
        {
            var up = endpoint.Parent;
            while (up is IConversionOperation)
            {
                up = up.Parent;
            }

            if (up is not IArgumentOperation { Parent: IInvocationOperation next } receiver || next.Arguments.Length == 0 || next.Arguments[0] != receiver)
            {
                break;
            }

            endpoint = next;
            switch (next.TargetMethod.Name)
            {
                case "DisableRequestTimeout":
                    return null;
                case "WithRequestTimeout" when next.Arguments.Length == 2:
                    return FromArgument(next.Arguments[1].Value, "the request timeout of the endpoint (WithRequestTimeout)");
            }
        }

        return HasAttribute(lambda.Symbol, _disable) ? null : FromAttribute(lambda.Symbol) ?? _policies.Value.Default;
    }

    private RequestTimeout? ForAction(IMethodSymbol method)
    {
        if (method.DeclaredAccessibility != Accessibility.Public || method.IsStatic || !KnownTypes.IsOrDerivesFrom(method.ContainingType, _controllerBase)
            || HasAttribute(method, _disable) || HasAttribute(method.ContainingType, _disable))
        {
            return null;
        }

        return FromAttribute(method) ?? FromAttribute(method.ContainingType) ?? _policies.Value.Default;
    }

    private RequestTimeout? FromAttribute(ISymbol symbol)
    {
        foreach (var attribute in symbol.GetAttributes())
        {
            if (!SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, _attribute) || attribute.ConstructorArguments.Length != 1
                || attribute.ApplicationSyntaxReference?.GetSyntax() is not AttributeSyntax { ArgumentList.Arguments.Count: 1 } syntax
                || _declarations.OperationOf(syntax.ArgumentList.Arguments[0].Expression) is not { } argument)
            {
                continue;
            }

            return attribute.ConstructorArguments[0].Value switch
            {
                int milliseconds when milliseconds > 0 => new RequestTimeout(
                    new Duration(TimeSpan.FromMilliseconds(milliseconds), argument, isMilliseconds: true), "the request timeout of the endpoint ([RequestTimeout])"),
                string policy => _policies.Value.Named(policy),
                _ => null,
            };
        }

        return null;
    }

    /// <summary><c>WithRequestTimeout(TimeSpan)</c>, <c>("policy")</c> or <c>(new RequestTimeoutPolicy { Timeout = … })</c>.</summary>
    private RequestTimeout? FromArgument(IOperation value, string description)
    {
        value = DurationEvaluator.SkipConversions(value);
        if (value.ConstantValue.Value is string policy)
        {
            return _policies.Value.Named(policy);
        }

        return PolicyTimeout(value) is { IsFinite: true } timeout ? new RequestTimeout(timeout, description) : null;
    }

    private Duration? PolicyTimeout(IOperation value)
    {
        value = DurationEvaluator.SkipConversions(value);
        if (value is IObjectCreationOperation { Initializer: { } initializer })
        {
            foreach (var member in initializer.Initializers.OfType<ISimpleAssignmentOperation>())
            {
                if (member.Target is IPropertyReferenceOperation { Property.Name: "Timeout" })
                {
                    return _evaluator.EvaluateTimeSpan(member.Value);
                }
            }

            return null;
        }

        return _evaluator.EvaluateTimeSpan(value);
    }

    /// <summary>The policies every <c>AddRequestTimeouts(options => …)</c> in the compilation defines.</summary>
    private Policies FindPolicies()
    {
        var named = new Dictionary<string, RequestTimeout?>(StringComparer.Ordinal);
        RequestTimeout? fallback = null;
        foreach (var (call, _) in _declarations.InvocationsNamed("AddRequestTimeouts", "AddRequestTimeouts"))
        {
            foreach (var operation in call.Descendants())
            {
                switch (operation)
                {
                    case IInvocationOperation { TargetMethod.Name: "AddPolicy", Arguments.Length: 2 } add
                        when add.Arguments[0].Value.ConstantValue.Value is string name:
                        var timeout = PolicyTimeout(add.Arguments[1].Value);
                        // The same name defined twice with different values is no one value.
                        named[name] = named.ContainsKey(name) || timeout is not { IsFinite: true } known ? null
                            : new RequestTimeout(known, $"the request timeout policy '{name}'");
                        break;
                    case ISimpleAssignmentOperation { Target: IPropertyReferenceOperation { Property.Name: "DefaultPolicy" } } assignment:
                        fallback = PolicyTimeout(assignment.Value) is { IsFinite: true } value
                            ? new RequestTimeout(value, "the default request timeout policy")
                            : null;
                        break;
                }
            }
        }

        return new Policies(named, fallback);
    }

    private static bool HasAttribute(ISymbol symbol, INamedTypeSymbol? attribute) =>
        attribute is not null && symbol.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute));

    private sealed class Policies
    {
        private readonly Dictionary<string, RequestTimeout?> _named;

        public Policies(Dictionary<string, RequestTimeout?> named, RequestTimeout? fallback)
        {
            _named = named;
            Default = fallback;
        }

        public RequestTimeout? Default { get; }

        public RequestTimeout? Named(string name) => _named.TryGetValue(name, out var timeout) ? timeout : null;
    }
}
