using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>The minimum margin (<c>timeout_budget.minimum_margin</c> in .editorconfig, 5% by default) and fix suggestions that respect it.</summary>
internal static class Margins
{
    public const string OptionName = "timeout_budget.minimum_margin";
    public const string SuggestedTicksProperty = "SuggestedTicks";
    public const string MillisecondsProperty = "Milliseconds";

    /// <summary>Set when the finding is reported where two timeouts meet: the inner value is then the first additional location.</summary>
    public const string InnerIsAdditionalProperty = "InnerIsAdditional";

    public static BudgetMargin For(AnalyzerOptions options, SyntaxTree? tree)
    {
        if (tree is not null && options.AnalyzerConfigOptionsProvider.GetOptions(tree).TryGetValue(OptionName, out var text)
            && text is not null && BudgetMargin.TryParse(text, out var margin, out _))
        {
            return margin;
        }

        return BudgetMargin.Default;
    }

    /// <summary>The largest round value that fits inside <paramref name="outer"/> minus the margin: whole seconds from 10 s up, whole milliseconds below.</summary>
    public static TimeSpan? Fitting(TimeSpan outer, BudgetMargin margin)
    {
        var limit = outer - margin.For(outer);
        if (limit == outer)
        {
            limit -= TimeSpan.FromMilliseconds(1);
        }

        var unit = limit >= TimeSpan.FromSeconds(10) ? TimeSpan.TicksPerSecond : TimeSpan.TicksPerMillisecond;
        var rounded = TimeSpan.FromTicks(limit.Ticks / unit * unit);
        return rounded > TimeSpan.Zero ? rounded : null;
    }

    /// <summary>Properties that let the TB0001 fix rewrite the inner value when it is written inline.</summary>
    public static ImmutableDictionary<string, string?>? FixProperties(Duration inner, TimeSpan outer, BudgetMargin margin)
    {
        var written = DurationEvaluator.SkipConversions(inner.Source);
        var inline = IsInlineTimeSpan(written);
        if (!inline || Fitting(outer, margin) is not { } suggestion)
        {
            return null;
        }

        return ImmutableDictionary<string, string?>.Empty
            .Add(SuggestedTicksProperty, suggestion.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Add(MillisecondsProperty, inner.IsMilliseconds ? "true" : "false");
    }

    private static bool IsInlineTimeSpan(IOperation operation) =>
        operation is Microsoft.CodeAnalysis.Operations.IInvocationOperation { TargetMethod.IsStatic: true, TargetMethod.ContainingType.Name: "TimeSpan" } invocation
            && invocation.TargetMethod.Name.StartsWith("From", StringComparison.Ordinal)
        || operation is Microsoft.CodeAnalysis.Operations.IObjectCreationOperation { Type.Name: "TimeSpan" }
        || operation is Microsoft.CodeAnalysis.Operations.ILiteralOperation;
}
