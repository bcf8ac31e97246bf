using System.Collections.Immutable;
using System.Composition;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Editing;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Simplification;
using TimeoutBudget.Analyzers;

namespace TimeoutBudget.CodeFixes;

/// <summary>
/// TB0004/TB0005: creates a <c>CancellationTokenSource</c> cancelled after the wait's timeout (TB0005: after HttpClient's usual
/// 100 s, to be tuned) and passes its token to the call; TB0006: passes the budget's token already in scope.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(PassTimeoutTokenCodeFix)), Shared]
public sealed class PassTimeoutTokenCodeFix : CodeFixProvider
{
    /// <summary>HttpClient's own default: a deadline everyone already lives with, for the user to tune.</summary>
    private const long DefaultDeadlineSeconds = 100;

    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(DiagnosticIds.TimedWaitAbandonsWork, DiagnosticIds.OperationWithoutDeadline, DiagnosticIds.BudgetMisuse);

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(AbandonedWorkAnalyzer.TokenFixProperty, out var mode) || mode is null
                || root?.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true) is not { } node
                || node.FirstAncestorOrSelf<InvocationExpressionSyntax>() is not { } invocation)
            {
                continue;
            }

            if (diagnostic.Properties.TryGetValue("Token", out var existingToken) && existingToken is not null)
            {
                context.RegisterCodeFix(
                    CodeAction.Create($"Pass {existingToken}", _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(invocation, WithToken(invocation, mode, existingToken)))), equivalenceKey: nameof(PassTimeoutTokenCodeFix) + "Existing"),
                    diagnostic);
                continue;
            }

            if (invocation.FirstAncestorOrSelf<StatementSyntax>() is not { Parent: BlockSyntax } statement)
            {
                continue;
            }

            var deadline = diagnostic.AdditionalLocations.Count > 0 && root.FindNode(diagnostic.AdditionalLocations[0].SourceSpan, getInnermostNodeForTie: true) is ExpressionSyntax waitTimeout
                ? waitTimeout.WithoutTrivia()
                : ShrinkInnerTimeoutCodeFix.TimeSpanFactory("FromSeconds", DefaultDeadlineSeconds);
            context.RegisterCodeFix(
                CodeAction.Create("Pass a token cancelled after the timeout", ct => AddSourceAsync(context.Document, statement, invocation, mode, deadline, ct), equivalenceKey: nameof(PassTimeoutTokenCodeFix)),
                diagnostic);
        }
    }

    private static async Task<Document> AddSourceAsync(Document document, StatementSyntax statement, InvocationExpressionSyntax invocation, string mode, ExpressionSyntax deadline, CancellationToken cancellationToken)
    {
        var model = await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false);
        var name = "timeoutSource";
        for (var suffix = 2; model is not null && model.LookupSymbols(statement.SpanStart, name: name).Length > 0; suffix++)
        {
            name = "timeoutSource" + suffix.ToString(CultureInfo.InvariantCulture);
        }

        var sourceType = SyntaxFactory.ParseTypeName("global::System.Threading.CancellationTokenSource").WithAdditionalAnnotations(Simplifier.Annotation);
        var declaration = SyntaxFactory.LocalDeclarationStatement(
                SyntaxFactory.VariableDeclaration(
                    SyntaxFactory.IdentifierName("var"),
                    SyntaxFactory.SingletonSeparatedList(
                        SyntaxFactory.VariableDeclarator(name).WithInitializer(SyntaxFactory.EqualsValueClause(
                            SyntaxFactory.ObjectCreationExpression(sourceType).WithArgumentList(SyntaxFactory.ArgumentList(SyntaxFactory.SingletonSeparatedList(SyntaxFactory.Argument(deadline)))))))))
            .WithUsingKeyword(SyntaxFactory.Token(SyntaxKind.UsingKeyword))
            .WithLeadingTrivia(statement.GetLeadingTrivia())
            .WithTrailingTrivia(SyntaxFactory.ElasticLineFeed)
            .WithAdditionalAnnotations(Formatter.Annotation, Simplifier.AddImportsAnnotation);

        var editor = await Microsoft.CodeAnalysis.Editing.DocumentEditor.CreateAsync(document, cancellationToken).ConfigureAwait(false);
        editor.ReplaceNode(invocation, WithToken(invocation, mode, name + ".Token").WithAdditionalAnnotations(Formatter.Annotation));
        editor.InsertBefore(statement, declaration);
        var imported = await ImportAdder.AddImportsAsync(editor.GetChangedDocument(), Simplifier.AddImportsAnnotation, cancellationToken: cancellationToken).ConfigureAwait(false);
        var formatted = await Formatter.FormatAsync(imported, Formatter.Annotation, cancellationToken: cancellationToken).ConfigureAwait(false);
        var simplified = await Simplifier.ReduceAsync(formatted, Simplifier.Annotation, cancellationToken: cancellationToken).ConfigureAwait(false);

        // Reparse so the tree is exactly what the text says (a reduced type name inside a member access otherwise stays a QualifiedName).
        var text = await simplified.GetTextAsync(cancellationToken).ConfigureAwait(false);
        return simplified.WithText(Microsoft.CodeAnalysis.Text.SourceText.From(text.ToString(), text.Encoding, text.ChecksumAlgorithm));
    }

    private static InvocationExpressionSyntax WithToken(InvocationExpressionSyntax invocation, string mode, string token)
    {
        var tokenExpression = SyntaxFactory.ParseExpression(token);
        var arguments = invocation.ArgumentList.Arguments;
        if (mode.StartsWith("Replace:", StringComparison.Ordinal)
            && int.TryParse(mode.Substring("Replace:".Length), NumberStyles.Integer, CultureInfo.InvariantCulture, out var start)
            && arguments.FirstOrDefault(a => a.SpanStart == start) is { } replaced)
        {
            return invocation.ReplaceNode(replaced, replaced.WithExpression(tokenExpression.WithTriviaFrom(replaced.Expression)));
        }

        var argument = SyntaxFactory.Argument(tokenExpression);
        if (mode.StartsWith("Named:", StringComparison.Ordinal))
        {
            argument = argument.WithNameColon(SyntaxFactory.NameColon(mode.Substring("Named:".Length)));
        }

        return invocation.WithArgumentList(invocation.ArgumentList.AddArguments(argument));
    }
}
