using System.Collections.Immutable;
using System.Composition;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Simplification;
using TimeoutBudget.Analyzers;

namespace TimeoutBudget.CodeFixes;

/// <summary>TB0001/TB0003: rewrites an inline inner timeout to the largest round value that fits inside outer − margin.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ShrinkInnerTimeoutCodeFix)), Shared]
public sealed class ShrinkInnerTimeoutCodeFix : CodeFixProvider
{
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.InnerTimeoutNotShorter, DiagnosticIds.MarginTooSmall);

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue("SuggestedTicks", out var ticksText)
                || !long.TryParse(ticksText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks)
                || root?.FindNode(InnerValue(diagnostic).SourceSpan, getInnermostNodeForTie: true) is not ExpressionSyntax written
                || InnerValue(diagnostic).SourceTree != diagnostic.Location.SourceTree)
            {
                continue;
            }

            var milliseconds = diagnostic.Properties.TryGetValue("Milliseconds", out var unit) && unit == "true";
            var replacement = Replacement(TimeSpan.FromTicks(ticks), milliseconds);
            var title = $"Shrink the inner timeout to {replacement.ToString().Replace("global::System.", string.Empty)}";
            context.RegisterCodeFix(
                CodeAction.Create(title, ct => ReplaceAsync(context.Document, root.ReplaceNode(written, replacement.WithTriviaFrom(written)), ct), equivalenceKey: nameof(ShrinkInnerTimeoutCodeFix)),
                diagnostic);
        }
    }

    /// <summary>Where the inner value is written: the diagnostic itself, or its first additional location when it is reported where two timeouts meet.</summary>
    private static Location InnerValue(Diagnostic diagnostic) =>
        diagnostic.Properties.ContainsKey("InnerIsAdditional") && diagnostic.AdditionalLocations.Count > 0 ? diagnostic.AdditionalLocations[0] : diagnostic.Location;

    private static async Task<Document> ReplaceAsync(Document document, SyntaxNode root, CancellationToken cancellationToken)
    {
        var simplified = await Simplifier.ReduceAsync(document.WithSyntaxRoot(root), Simplifier.Annotation, cancellationToken: cancellationToken).ConfigureAwait(false);

        // Reparse so the tree is exactly what the text says (a reduced type name inside a member access otherwise stays a QualifiedName).
        var text = await simplified.GetTextAsync(cancellationToken).ConfigureAwait(false);
        return simplified.WithText(Microsoft.CodeAnalysis.Text.SourceText.From(text.ToString(), text.Encoding, text.ChecksumAlgorithm));
    }

    private static ExpressionSyntax Replacement(TimeSpan value, bool milliseconds)
    {
        var wholeMilliseconds = (long)value.TotalMilliseconds;
        if (milliseconds)
        {
            // Millisecond overloads take an int; the suggestion is below the outer value, which was an int too.
            return SyntaxFactory.LiteralExpression(SyntaxKind.NumericLiteralExpression, SyntaxFactory.Literal((int)Math.Min(wholeMilliseconds, int.MaxValue)));
        }

        return value.Ticks % TimeSpan.TicksPerSecond == 0
            ? TimeSpanFactory("FromSeconds", (long)value.TotalSeconds)
            : TimeSpanFactory("FromMilliseconds", wholeMilliseconds);
    }

    /// <summary><c>TimeSpan.FromX(n)</c>, with the type written so that it simplifies to whatever the file's usings allow.</summary>
    internal static ExpressionSyntax TimeSpanFactory(string method, long argument) =>
        SyntaxFactory.InvocationExpression(
            SyntaxFactory.MemberAccessExpression(
                SyntaxKind.SimpleMemberAccessExpression,
                SyntaxFactory.ParseTypeName("global::System.TimeSpan").WithAdditionalAnnotations(Simplifier.Annotation),
                SyntaxFactory.IdentifierName(method)),
            SyntaxFactory.ArgumentList(SyntaxFactory.SingletonSeparatedList(SyntaxFactory.Argument(
                SyntaxFactory.LiteralExpression(SyntaxKind.NumericLiteralExpression, argument <= int.MaxValue ? SyntaxFactory.Literal((int)argument) : SyntaxFactory.Literal(argument))))));
}
