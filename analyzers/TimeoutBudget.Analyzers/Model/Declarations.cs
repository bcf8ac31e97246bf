using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Reads what a member is declared to hold, in whichever file it is declared: a <c>static readonly</c> field's initializer, an
/// auto-property's initializer (<c>{ get; set; } = TimeSpan.FromSeconds(30)</c>), an expression-bodied getter, and the body
/// of a method passed as a delegate. One instance per compilation, shared by every type's analysis; semantic models come from
/// the compilation, which under analysis hands out the same cached model the analyzer driver uses.
/// </summary>
internal sealed class Declarations
{
    private const int MaxBoundWrites = 48;

    private readonly Compilation _compilation;
    private readonly ConcurrentDictionary<SyntaxTree, SemanticModel> _models = new();
    private readonly ConcurrentDictionary<ISymbol, bool> _writtenElsewhere = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IMethodSymbol, (int Work, int Timeout)?> _waitHelpers = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IParameterSymbol, IOperation?> _onlyArguments = new(SymbolEqualityComparer.Default);

    public Declarations(Compilation compilation)
    {
        _compilation = compilation;
    }

    /// <summary>The operation a field or property is initialized with, or a getter returns; null when there is none or it is not in source.</summary>
    public IOperation? InitialValue(ISymbol member)
    {
        foreach (var reference in member.DeclaringSyntaxReferences)
        {
            var syntax = reference.GetSyntax();
            ExpressionSyntax? value = syntax switch
            {
                VariableDeclaratorSyntax { Initializer.Value: { } initializer } => initializer,
                PropertyDeclarationSyntax { Initializer.Value: { } initializer } => initializer,
                PropertyDeclarationSyntax { ExpressionBody.Expression: { } body } => body,
                PropertyDeclarationSyntax { AccessorList: { } accessors } => accessors.Accessors
                    .FirstOrDefault(a => a.IsKind(SyntaxKind.GetAccessorDeclaration))?.ExpressionBody?.Expression,
                _ => null,
            };
            if (value is not null && ModelFor(value.SyntaxTree)?.GetOperation(value) is { } operation)
            {
                return operation;
            }
        }

        return null;
    }

    /// <summary>The body of a method in source (a method group given as <c>configureClient: Configure</c>).</summary>
    public IOperation? Body(IMethodSymbol method)
    {
        foreach (var reference in method.DeclaringSyntaxReferences)
        {
            SyntaxNode? body = reference.GetSyntax() switch
            {
                MethodDeclarationSyntax { Body: { } block } => block,
                MethodDeclarationSyntax { ExpressionBody.Expression: { } expression } => expression,
                LocalFunctionStatementSyntax { Body: { } block } => block,
                LocalFunctionStatementSyntax { ExpressionBody.Expression: { } expression } => expression,
                ConstructorDeclarationSyntax { Body: { } block } => block,
                ConstructorDeclarationSyntax { ExpressionBody.Expression: { } expression } => expression,
                _ => null,
            };
            if (body is not null && ModelFor(body.SyntaxTree)?.GetOperation(body) is { } operation)
            {
                return operation;
            }
        }

        return null;
    }

    /// <summary>
    /// Whether a method in source is a timed-wait helper (<c>task.OrTimeout(t)</c>, <c>TimeoutAfter(task, t)</c>): it takes a task
    /// and a timeout and waits for the one with the other — <c>WaitAsync</c>, <c>Wait</c>, or <c>WhenAny</c> with a delay. Returns
    /// the ordinals of the task and timeout parameters.
    /// </summary>
    public (int Work, int Timeout)? WaitHelper(IMethodSymbol method, KnownTypes types)
    {
        method = method.ReducedFrom ?? method;
        if (method.DeclaringSyntaxReferences.Length == 0
            || !method.Parameters.Any(p => types.IsTask(p.Type))
            || !method.Parameters.Any(p => types.IsTimeSpan(p.Type)))
        {
            return null;
        }

        return WaitHelper(method, types, 0);
    }

    private (int Work, int Timeout)? WaitHelper(IMethodSymbol method, KnownTypes types, int depth) =>
        depth > 3 ? null : _waitHelpers.GetOrAdd(method.OriginalDefinition, m => FindWaitHelper(m, types, depth));

    private (int Work, int Timeout)? FindWaitHelper(IMethodSymbol method, KnownTypes types, int depth)
    {
        if (Body(method) is not { } body)
        {
            return null;
        }

        foreach (var call in body.DescendantsAndSelf().OfType<IInvocationOperation>())
        {
            // OrTimeout(task, t) => OrTimeoutInternal(task, t, …): a helper that hands both to another helper.
            var callee = call.TargetMethod.ReducedFrom ?? call.TargetMethod;
            if (!SymbolEqualityComparer.Default.Equals(callee.OriginalDefinition, method.OriginalDefinition)
                && callee.DeclaringSyntaxReferences.Length > 0 && WaitHelper(callee, types, depth + 1) is { } inner
                && ParameterPassedAt(call, inner.Work, method) is { } passedTask && ParameterPassedAt(call, inner.Timeout, method) is { } passedTimeout)
            {
                return (passedTask, passedTimeout);
            }

            if (!KnownTypes.IsOrDerivesFrom(call.TargetMethod.ContainingType, types.Task))
            {
                continue;
            }

            IOperation? work = null;
            IOperation? timeout = null;
            if (call.TargetMethod.Name is "WaitAsync" or "Wait" && call.Instance is { } waited && call.Arguments.Length > 0)
            {
                work = waited;
                timeout = call.Arguments[0].Value;
            }
            else if (call.TargetMethod.Name == "WhenAny")
            {
                var tasks = ArgumentValues.Of(call).Select(TimedWait.Unwrap).ToList();
                var delay = tasks.OfType<IInvocationOperation>().FirstOrDefault(t => t.TargetMethod.Name == "Delay" && t.Arguments.Length > 0);
                work = tasks.FirstOrDefault(t => t != delay);
                timeout = delay?.Arguments[0].Value;
            }

            if (DurationEvaluator.SkipConversions(work ?? call) is IParameterReferenceOperation task
                && TimeoutParameter(timeout ?? call) is IParameterReferenceOperation limit
                && SymbolEqualityComparer.Default.Equals(task.Parameter.ContainingSymbol, method)
                && SymbolEqualityComparer.Default.Equals(limit.Parameter.ContainingSymbol, method))
            {
                return (task.Parameter.Ordinal, limit.Parameter.Ordinal);
            }
        }

        return null;
    }

    /// <summary>The timeout parameter, also when a debugger switch picks it: <c>Debugger.IsAttached ? Timeout.InfiniteTimeSpan : timeout</c>.</summary>
    private static IOperation TimeoutParameter(IOperation timeout)
    {
        timeout = DurationEvaluator.SkipConversions(timeout);
        if (timeout is IConditionalOperation { WhenFalse: { } whenFalse } conditional)
        {
            var whenTrue = DurationEvaluator.SkipConversions(conditional.WhenTrue);
            return whenTrue is IParameterReferenceOperation ? whenTrue : DurationEvaluator.SkipConversions(whenFalse);
        }

        return timeout;
    }

    /// <summary>Which of <paramref name="method"/>'s own parameters a call passes at the callee's parameter <paramref name="ordinal"/>.</summary>
    private static int? ParameterPassedAt(IInvocationOperation call, int ordinal, IMethodSymbol method)
    {
        var argument = call.Arguments.FirstOrDefault(a => a.Parameter?.Ordinal == ordinal);
        return argument is not null && DurationEvaluator.SkipConversions(argument.Value) is IParameterReferenceOperation passed
            && SymbolEqualityComparer.Default.Equals(passed.Parameter.ContainingSymbol.OriginalDefinition, method.OriginalDefinition)
            ? passed.Parameter.Ordinal
            : null;
    }

    /// <summary>
    /// Whether code anywhere in the compilation assigns the member outside its own declaration (an object initializer in a
    /// registration, a setter call): then its initializer is a default, not the value.
    /// </summary>
    public bool IsWrittenElsewhere(ISymbol member) => _writtenElsewhere.GetOrAdd(member, FindWrite);

    private bool FindWrite(ISymbol member)
    {
        // A private member can only be assigned inside its own type; anything else anywhere in the compilation. A tree whose
        // text does not even contain the name is skipped without walking it (the text is already in memory).
        var trees = member.DeclaredAccessibility == Accessibility.Private && member.ContainingType is { } owner
            ? owner.DeclaringSyntaxReferences.Select(r => r.SyntaxTree).Distinct()
            : _compilation.SyntaxTrees;
        var bound = 0;
        foreach (var tree in trees)
        {
            if (tree.GetText().ToString().IndexOf(member.Name, StringComparison.Ordinal) < 0)
            {
                continue;
            }

            foreach (var assignment in tree.GetRoot().DescendantNodes().OfType<AssignmentExpressionSyntax>())
            {
                var name = assignment.Left switch
                {
                    IdentifierNameSyntax identifier => identifier,
                    MemberAccessExpressionSyntax access => access.Name,
                    MemberBindingExpressionSyntax binding => binding.Name,
                    _ => null,
                };
                if (name is null || name.Identifier.ValueText != member.Name)
                {
                    continue;
                }

                // A name assigned in this many places (Count, Timeout in a large code base) is not worth binding each one:
                // the member may well be among them, so its declared value is not trusted.
                if (++bound > MaxBoundWrites)
                {
                    return true;
                }

                if (ModelFor(tree) is { } model && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(name).Symbol?.OriginalDefinition, member.OriginalDefinition))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// What a private method's parameter is given when the method has exactly one call site, which passes it explicitly
    /// (<c>WaitForHealthAsync(TimeSpan.FromSeconds(2), ct)</c>): the value is then known. A method that is also used as a
    /// delegate, or has no or several calls, gives nothing.
    /// </summary>
    public IOperation? OnlyArgument(IParameterSymbol parameter) => _onlyArguments.GetOrAdd(parameter, FindOnlyArgument);

    private IOperation? FindOnlyArgument(IParameterSymbol parameter)
    {
        if (parameter.ContainingSymbol is not IMethodSymbol { MethodKind: MethodKind.Ordinary, DeclaredAccessibility: Accessibility.Private, IsVirtual: false } method
            || parameter.RefKind != RefKind.None || parameter.IsParams || method.ContainingType is null)
        {
            return null;
        }

        // The method's name written exactly twice in its type's files (the declaration and the one call) is checked with the
        // text already in memory before anything is bound; more occurrences mean more uses, overloads or recursion.
        IdentifierNameSyntax? use = null;
        var occurrences = 0;
        foreach (var tree in method.ContainingType.DeclaringSyntaxReferences.Select(r => r.SyntaxTree).Distinct())
        {
            var text = tree.GetText().ToString();
            for (var at = text.IndexOf(method.Name, StringComparison.Ordinal); at >= 0; at = text.IndexOf(method.Name, at + method.Name.Length, StringComparison.Ordinal))
            {
                var wholeWord = (at == 0 || !IsIdentifierCharacter(text[at - 1])) && (at + method.Name.Length >= text.Length || !IsIdentifierCharacter(text[at + method.Name.Length]));
                if (!wholeWord)
                {
                    continue;
                }

                if (++occurrences > 2)
                {
                    return null;
                }

                if (tree.GetRoot().FindToken(at).Parent is IdentifierNameSyntax name)
                {
                    use = name;
                }
            }
        }

        if (occurrences != 2 || use is null || ModelFor(use.SyntaxTree) is not { } model
            || (use.Parent is MemberAccessExpressionSyntax access && access.Name == use ? access.Parent : use.Parent) is not InvocationExpressionSyntax invocation
            || model.GetOperation(invocation) is not IInvocationOperation call
            || !SymbolEqualityComparer.Default.Equals(call.TargetMethod.OriginalDefinition, method.OriginalDefinition))
        {
            return null;
        }

        return call.Arguments.FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.Parameter?.OriginalDefinition, parameter.OriginalDefinition) && a.ArgumentKind == ArgumentKind.Explicit)?.Value;
    }

    private static bool IsIdentifierCharacter(char c) => char.IsLetterOrDigit(c) || c == '_';

    /// <summary>The operation of a node anywhere in the compilation (an attribute's argument in another file).</summary>
    public IOperation? OperationOf(SyntaxNode node) => ModelFor(node.SyntaxTree)?.GetOperation(node);

    /// <summary>
    /// The calls named one of <paramref name="methodNames"/> in files that mention <paramref name="mention"/> (a type's name):
    /// where configuration is bound to an options type, found without binding files that cannot contain it.
    /// </summary>
    public IEnumerable<(IInvocationOperation Call, SyntaxTree Tree)> InvocationsNamed(string mention, params string[] methodNames)
    {
        foreach (var tree in _compilation.SyntaxTrees)
        {
            if (tree.GetText().ToString().IndexOf(mention, StringComparison.Ordinal) < 0)
            {
                continue;
            }

            foreach (var invocation in tree.GetRoot().DescendantNodes().OfType<InvocationExpressionSyntax>())
            {
                var name = invocation.Expression switch
                {
                    MemberAccessExpressionSyntax access => access.Name,
                    MemberBindingExpressionSyntax binding => binding.Name,
                    SimpleNameSyntax simple => simple,
                    _ => null,
                };
                if (name is not null && Array.IndexOf(methodNames, name.Identifier.ValueText) >= 0
                    && ModelFor(tree)?.GetOperation(invocation) is IInvocationOperation call)
                {
                    yield return (call, tree);
                }
            }
        }
    }

#pragma warning disable RS1030 // Values declared in other files are the point; the driver's semantic model cache answers these calls.
    private SemanticModel? ModelFor(SyntaxTree tree) =>
        _compilation.ContainsSyntaxTree(tree) ? _models.GetOrAdd(tree, t => _compilation.GetSemanticModel(t)) : null;
#pragma warning restore RS1030
}
