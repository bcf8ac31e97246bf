using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace TimeoutBudget.Analyzers;

/// <summary>
/// TB0007: validates timeout plans given as AdditionalFiles (<c>timeouts.json</c>, <c>*.timeouts.json</c>) with the very
/// source of <c>BudgetPlan.Parse</c>/<c>Validate</c>, reporting each violation at its node in the JSON file. Plans do not depend
/// on any referenced type, so this rule runs in every compilation that has such a file.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class TimeoutPlanAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(Descriptors.InvalidTimeoutPlan);

    public static bool IsPlanFile(string path)
    {
        var name = Model.Duration.FileName(path);
        return string.Equals(name, "timeouts.json", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".timeouts.json", StringComparison.OrdinalIgnoreCase);
    }

    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterAdditionalFileAction(Analyze);
    }

    private static void Analyze(AdditionalFileAnalysisContext context)
    {
        var file = context.AdditionalFile;
        if (!IsPlanFile(file.Path) || file.GetText(context.CancellationToken) is not { } text)
        {
            return;
        }

        IReadOnlyList<BudgetViolation> violations;
        try
        {
            violations = BudgetPlan.Parse(text.ToString()).Validate();
        }
        catch (BudgetPlanException malformed)
        {
            Report(context, text, malformed.Line, malformed.Column, malformed.Length, $"The timeout plan cannot be read: {malformed.Message}");
            return;
        }

        foreach (var violation in violations)
        {
            Report(context, text, violation.Line, violation.Column, violation.Length, violation.Message);
        }
    }

    private static void Report(AdditionalFileAnalysisContext context, SourceText text, int line, int column, int length, string message)
    {
        var span = Span(text, line, column, length);
        var location = Location.Create(context.AdditionalFile.Path, span, text.Lines.GetLinePositionSpan(span));
        context.ReportDiagnostic(Diagnostic.Create(Descriptors.InvalidTimeoutPlan, location, message));
    }

    /// <summary>The 1-based line and column as a span, clamped to the text so a position past the end cannot throw.</summary>
    private static TextSpan Span(SourceText text, int line, int column, int length)
    {
        if (text.Lines.Count == 0 || line < 1)
        {
            return new TextSpan(0, 0);
        }

        var textLine = text.Lines[Math.Min(line, text.Lines.Count) - 1];
        var start = textLine.Start + Math.Min(Math.Max(column - 1, 0), textLine.End - textLine.Start);
        var end = Math.Min(start + Math.Max(length, 0), text.Length);
        return TextSpan.FromBounds(start, end);
    }
}
