using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>The three comparisons every source pair goes through, so that all sources word their findings alike.</summary>
internal static class Comparison
{
    /// <summary>TB0001 when inner ≥ outer (equal counts: both fire together and either may win). Returns whether it reported.</summary>
    /// <remarks>
    /// With <paramref name="meetsAt"/> (the call or registration that nests the two), the finding is reported there and both
    /// values are its additional locations, inner first; otherwise at the inner value with the outer one as additional location.
    /// </remarks>
    public static bool InnerNotShorter(Duration inner, string innerDescription, Duration outer, string outerDescription, string consequence, DiagnosticSink sink, IOperation? meetsAt = null)
    {
        if (!inner.IsFinite || !outer.IsFinite || inner.Value < outer.Value)
        {
            return false;
        }

        var margin = Margins.For(sink.Options, inner.Source.Syntax.SyntaxTree);
        var relation = inner.Value == outer.Value ? "equals" : "is longer than";
        var message = $"{SentenceStart(innerDescription)} ({inner.Text}, set at {inner.Where}) {relation} {outerDescription} ({outer.Text}, set at {outer.Where}): {consequence}";
        ReportAt(Descriptors.InnerTimeoutNotShorter, inner, outer, message, Margins.FixProperties(inner, outer.Value, margin), meetsAt, sink);
        return true;
    }

    /// <summary>TB0003 when inner &lt; outer but by less than the configured minimum margin.</summary>
    public static bool MarginTooSmall(Duration inner, string innerDescription, Duration outer, string outerDescription, DiagnosticSink sink, IOperation? meetsAt = null)
    {
        if (!inner.IsFinite || !outer.IsFinite || inner.Value >= outer.Value)
        {
            return false;
        }

        var margin = Margins.For(sink.Options, inner.Source.Syntax.SyntaxTree);
        var required = margin.For(outer.Value);
        var left = outer.Value - inner.Value;
        if (left >= required)
        {
            return false;
        }

        var message = $"{SentenceStart(innerDescription)} ({inner.Text}, set at {inner.Where}) leaves only {DurationText.Format(left)} inside {outerDescription} ({outer.Text}, set at {outer.Where}), less than the minimum margin {margin} ({DurationText.Format(required)}): there is no time left to report the timeout or fall back before the outer one fires";
        ReportAt(Descriptors.MarginTooSmall, inner, outer, message, Margins.FixProperties(inner, outer.Value, margin), meetsAt, sink);
        return true;
    }

    /// <summary>
    /// TB0002 when not even one retry can start before the outer timeout, or when a modest schedule (fewer than
    /// <see cref="HttpClientRegistrations.RetryUntilDeadlineRetries"/> retries) cannot run to its end inside it. Many retries under
    /// a total timeout are the retry-until-the-deadline idiom, in which the outer timeout is meant to cut the schedule.
    /// </summary>
    public static bool ScheduleDoesNotFit(RetrySchedule schedule, Duration attempt, Duration outer, string scheduleDescription, string outerDescription, IOperation reportAt, DiagnosticSink sink)
    {
        if (!attempt.IsFinite || !outer.IsFinite || attempt.Value >= outer.Value || schedule.MaxAttempts < 2)
        {
            return false;
        }

        var firstRetryStarts = attempt.Value + schedule.DelayBefore(1);
        string? problem = null;
        if (firstRetryStarts >= outer.Value)
        {
            problem = $"not even one retry can start: the first attempt ({attempt.Text}) and the first delay ({DurationText.Format(schedule.DelayBefore(1))}) already use up {outerDescription} ({outer.Text}, set at {outer.Where})";
        }
        else if (schedule.MaxAttempts - 1 < HttpClientRegistrations.RetryUntilDeadlineRetries && schedule.WorstCase(attempt.Value) > outer.Value)
        {
            problem = $"{schedule.DescribeWorstCase(attempt.Value)} does not fit in {outerDescription} ({outer.Text}, set at {outer.Where}): the later attempts can never run to their timeout";
        }

        if (problem is null)
        {
            return false;
        }

        sink.ReportComparison(Descriptors.RetryScheduleDoesNotFit, MeetingLocation(reportAt), $"{scheduleDescription} cannot fit: {problem}", new[] { outer.Source.Syntax.GetLocation() }, null, attempt, outer);
        return true;
    }

    private static void ReportAt(DiagnosticDescriptor descriptor, Duration inner, Duration outer, string message, ImmutableDictionary<string, string?>? properties, IOperation? meetsAt, DiagnosticSink sink)
    {
        if (meetsAt is null)
        {
            sink.ReportComparison(descriptor, inner.Source.Syntax.GetLocation(), message, new[] { outer.Source.Syntax.GetLocation() }, properties, inner, outer);
            return;
        }

        properties = properties?.Add(Margins.InnerIsAdditionalProperty, "true");
        sink.ReportComparison(descriptor, MeetingLocation(meetsAt), message, new[] { inner.Source.Syntax.GetLocation(), outer.Source.Syntax.GetLocation() }, properties, inner, outer);
    }

    /// <summary>
    /// A call's location; for a call at the end of a fluent chain (<c>services.AddHttpClient("x").AddStandardResilienceHandler(…)</c>)
    /// from its own name on, so the finding marks that call and sits on its line.
    /// </summary>
    public static Location MeetingLocation(IOperation operation)
    {
        var syntax = operation.Syntax;
        if (syntax is Microsoft.CodeAnalysis.CSharp.Syntax.InvocationExpressionSyntax { Expression: Microsoft.CodeAnalysis.CSharp.Syntax.MemberAccessExpressionSyntax { Expression: Microsoft.CodeAnalysis.CSharp.Syntax.InvocationExpressionSyntax } access } invocation)
        {
            return Location.Create(syntax.SyntaxTree, Microsoft.CodeAnalysis.Text.TextSpan.FromBounds(access.Name.SpanStart, invocation.Span.End));
        }

        return syntax.GetLocation();
    }

    /// <summary>
    /// A description as the start of a sentence. Descriptions worded here begin with "the", which is capitalised; any other
    /// begins with a code name (<c>AttemptTimeout</c>, <c>o.AttemptTimeout</c>, <c>retryPolicy</c>) whose case is part of
    /// the name, so it is left exactly as written even where that puts a lower-case letter first.
    /// </summary>
    public static string SentenceStart(string description) =>
        description.StartsWith("the ", StringComparison.Ordinal) ? "The" + description.Substring(3) : description;
}
