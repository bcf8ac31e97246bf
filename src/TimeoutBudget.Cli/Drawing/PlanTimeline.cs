namespace TimeoutBudget.Cli.Drawing;

/// <summary>What a plan looks like on a time axis: one bar per layer, starting where its parent starts.</summary>
internal sealed record PlanTimeline(IReadOnlyList<TimelineBar> Bars, double TotalSeconds, IReadOnlyList<BudgetViolation> Violations, string Title);

/// <summary>One layer: its attempts and delays, and for a parent, the margin and reserve its children may not use.</summary>
internal sealed record TimelineBar(
    BudgetPlanNode Node,
    int Row,
    int Depth,
    double Start,
    IReadOnlyList<TimelineSegment> Segments,
    bool Unbounded,
    bool Violating,
    double? MarginStart,
    double? ReserveStart,
    double? End);

internal enum SegmentKind
{
    Attempt,
    Delay,
}

internal sealed record TimelineSegment(SegmentKind Kind, double Start, double Length, int Attempt);

internal static class TimelineBuilder
{
    public static PlanTimeline Build(BudgetPlan plan, IReadOnlyList<BudgetViolation> violations)
    {
        var violating = new HashSet<string>(violations.Select(v => v.Path), StringComparer.Ordinal);
        var bars = new List<TimelineBar>();
        Add(plan.Root, depth: 0, start: 0, bars, violating);

        var finiteEnds = bars.Where(b => b.End is not null).Select(b => b.End!.Value).DefaultIfEmpty(1).Max();
        var total = Math.Max(finiteEnds, 0.001);
        return new PlanTimeline(bars, total, violations, plan.Root.Layer);
    }

    private static void Add(BudgetPlanNode node, int depth, double start, List<TimelineBar> bars, HashSet<string> violating)
    {
        var segments = new List<TimelineSegment>();
        double? end = null;
        double? marginStart = null;
        double? reserveStart = null;
        if (!node.IsUnbounded)
        {
            var cursor = start;
            var attempts = node.Retry?.MaxAttempts ?? 1;
            var shown = Math.Min(attempts, 50);
            var timeout = node.Timeout.TotalSeconds;
            for (var attempt = 1; attempt <= shown; attempt++)
            {
                if (attempt > 1)
                {
                    var delay = node.Retry!.DelayBefore(attempt - 1).TotalSeconds;
                    if (delay > 0)
                    {
                        segments.Add(new TimelineSegment(SegmentKind.Delay, cursor, delay, attempt));
                        cursor += delay;
                    }
                }

                segments.Add(new TimelineSegment(SegmentKind.Attempt, cursor, timeout, attempt));
                cursor += timeout;
            }

            end = start + node.WorstCase.TotalSeconds;
            if (node.Children.Count > 0)
            {
                var attemptEnd = start + timeout;
                var window = Math.Max(0, timeout - node.Reserve.TotalSeconds);
                var margin = node.EffectiveMargin.For(TimeSpan.FromSeconds(window)).TotalSeconds;
                reserveStart = node.Reserve > TimeSpan.Zero ? attemptEnd - node.Reserve.TotalSeconds : null;
                marginStart = start + window - margin;
            }
        }

        bars.Add(new TimelineBar(node, bars.Count, depth, start, segments, node.IsUnbounded, violating.Contains(node.Path), marginStart, reserveStart, end));
        foreach (var child in node.Children)
        {
            Add(child, depth + 1, start, bars, violating);
        }
    }
}
