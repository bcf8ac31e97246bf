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

    /// <summary>
    /// Fixes one document's findings one after another on the changing document, so two waits in one block get
    /// <c>timeoutSource</c> and <c>timeoutSource2</c> and the import is added once; a batch merge of independent fixes would
    /// declare the same name twice.
    /// </summary>
    public override FixAllProvider GetFixAllProvider() => FixAllProvider.Create(FixAllInDocumentAsync);

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (Plan(root, diagnostic) is not { } plan)
            {
                continue;
            }

            var (title, key) = plan.ExistingToken is { } token
                ? ($"Pass {token}", nameof(PassTimeoutTokenCodeFix) + "Existing")
                : ("Pass a token cancelled after the timeout", nameof(PassTimeoutTokenCodeFix));
            context.RegisterCodeFix(CodeAction.Create(title, ct => ApplyAsync(context.Document, plan.Invocation, plan, reparse: true, ct), equivalenceKey: key), diagnostic);
        }
    }

    private static async Task<Document?> FixAllInDocumentAsync(FixAllContext context, Document document, ImmutableArray<Diagnostic> diagnostics)
    {
        var root = await document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return document;
        }

        // Mark every call first: each fix moves the text under the ones after it.
        var plans = new List<(SyntaxAnnotation Mark, FixPlan Plan)>();
        foreach (var diagnostic in diagnostics.OrderBy(d => d.Location.SourceSpan.Start))
        {
            if (Plan(root, diagnostic) is { } plan && (context.CodeActionEquivalenceKey is null || context.CodeActionEquivalenceKey == Key(plan)))
            {
                plans.Add((new SyntaxAnnotation(), plan));
            }
        }

        var marks = plans.GroupBy(p => p.Plan.Invocation).ToDictionary(g => (SyntaxNode)g.Key, g => g.First().Mark);
        document = document.WithSyntaxRoot(root.ReplaceNodes(marks.Keys, (original, rewritten) => rewritten.WithAdditionalAnnotations(marks[original])));
        foreach (var (mark, plan) in plans.Where(p => marks.ContainsValue(p.Mark)))
        {
            var current = await document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
            if (current?.GetAnnotatedNodes(mark).OfType<InvocationExpressionSyntax>().FirstOrDefault() is { } invocation)
            {
                document = await ApplyAsync(document, invocation, plan, reparse: false, context.CancellationToken).ConfigureAwait(false);
            }
        }

        // What a code action's own post-processing would do before the reparse fixes the text: format the elastic trivia.
        var formatted = await Formatter.FormatAsync(document, SyntaxAnnotation.ElasticAnnotation, cancellationToken: context.CancellationToken).ConfigureAwait(false);
        return await ReparseAsync(formatted, context.CancellationToken).ConfigureAwait(false);
    }

    private static string Key(FixPlan plan) => plan.ExistingToken is null ? nameof(PassTimeoutTokenCodeFix) : nameof(PassTimeoutTokenCodeFix) + "Existing";

    /// <summary>What a finding asks for: the call, how to pass the token, and either the token in scope or the deadline of a new source.</summary>
    private static FixPlan? Plan(SyntaxNode root, Diagnostic diagnostic)
    {
        // TB0004 on work started elsewhere is reported at the wait; the call that started it is the second additional location.
        var callLocation = diagnostic.Id == DiagnosticIds.TimedWaitAbandonsWork && diagnostic.AdditionalLocations.Count > 1
            ? diagnostic.AdditionalLocations[1]
            : diagnostic.Location;
        if (!diagnostic.Properties.TryGetValue(TimeoutAnalyzer.TokenFixProperty, out var mode) || mode is null
            || callLocation.SourceTree != diagnostic.Location.SourceTree
            || root.FindNode(callLocation.SourceSpan, getInnermostNodeForTie: true) is not { } node
            || node.FirstAncestorOrSelf<InvocationExpressionSyntax>() is not { } invocation)
        {
            return null;
        }

        if (diagnostic.Properties.TryGetValue("Token", out var existingToken) && existingToken is not null)
        {
            return new FixPlan(invocation, mode, existingToken, null);
        }

        if (invocation.FirstAncestorOrSelf<StatementSyntax>() is not { Parent: BlockSyntax })
        {
            return null;
        }

        // The deadline is copied out now: it is syntax of this version of the document, reused in the next ones.
        var deadline = diagnostic.AdditionalLocations.Count > 0 && root.FindNode(diagnostic.AdditionalLocations[0].SourceSpan, getInnermostNodeForTie: true) is ExpressionSyntax waitTimeout
            ? waitTimeout.WithoutTrivia()
            : ShrinkInnerTimeoutCodeFix.TimeSpanFactory("FromSeconds", DefaultDeadlineSeconds);
        return new FixPlan(invocation, mode, null, deadline);
    }

    private static async Task<Document> ApplyAsync(Document document, InvocationExpressionSyntax invocation, FixPlan plan, bool reparse, CancellationToken cancellationToken)
    {
        if (plan.ExistingToken is { } token)
        {
            var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
            return root is null ? document : document.WithSyntaxRoot(root.ReplaceNode(invocation, WithToken(invocation, plan.Mode, token)));
        }

        return invocation.FirstAncestorOrSelf<StatementSyntax>() is { Parent: BlockSyntax } statement
            ? await AddSourceAsync(document, statement, invocation, plan.Mode, plan.Deadline!, reparse, cancellationToken).ConfigureAwait(false)
            : document;
    }

    private sealed class FixPlan
    {
        public FixPlan(InvocationExpressionSyntax invocation, string mode, string? existingToken, ExpressionSyntax? deadline)
        {
            Invocation = invocation;
            Mode = mode;
            ExistingToken = existingToken;
            Deadline = deadline;
        }

        public InvocationExpressionSyntax Invocation { get; }

        public string Mode { get; }

        public string? ExistingToken { get; }

        public ExpressionSyntax? Deadline { get; }
    }

    private static async Task<Document> AddSourceAsync(Document document, StatementSyntax statement, InvocationExpressionSyntax invocation, string mode, ExpressionSyntax deadline, bool reparse, CancellationToken cancellationToken)
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
        return reparse ? await ReparseAsync(simplified, cancellationToken).ConfigureAwait(false) : simplified;
    }

    /// <summary>
    /// The document reparsed so the tree is exactly what the text says (a reduced type name inside a member access otherwise stays
    /// a QualifiedName). Fix All reparses once at the end: reparsing drops the marks on the calls still to fix.
    /// </summary>
    private static async Task<Document> ReparseAsync(Document document, CancellationToken cancellationToken)
    {
        var text = await document.GetTextAsync(cancellationToken).ConfigureAwait(false);
        return document.WithText(Microsoft.CodeAnalysis.Text.SourceText.From(text.ToString(), text.Encoding, text.ChecksumAlgorithm));
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
