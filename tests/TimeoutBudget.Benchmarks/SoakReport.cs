using System.Text;
using TimeoutBudget.Tests.Soak;

namespace TimeoutBudget.Benchmarks;

/// <summary>The long soak (issue 8, item 3): runs <see cref="BudgetSoak"/> and reports its checks and its memory over time, as a table and an SVG.</summary>
internal static class SoakReport
{
    public static (string Markdown, string Svg, bool Kept) Run(long budgets)
    {
        var settings = new SoakSettings(budgets, Workers: Environment.ProcessorCount * 4, SampleEvery: TimeSpan.FromSeconds(budgets >= 1_000_000 ? 2 : 0.2));
        var result = BudgetSoak.Run(settings);
        var samples = result.Samples;
        var first = samples[0].RetainedBytes;
        var peak = samples.Max(s => s.RetainedBytes);
        var last = samples[^1].RetainedBytes;
        // Flatness over the second half, where warm-up (JIT, pools, thread-pool growth) is over.
        var half = samples.Skip(samples.Count / 2).ToList();
        var slope = Slope(half.Select(s => ((double)s.Opened, (double)s.RetainedBytes)).ToList());

        var md = new StringBuilder();
        md.AppendLine("# Soak: budgets opened and disposed at volume").AppendLine();
        md.AppendLine($"Machine: {Measure.Machine()}. Command: `dotnet run -c Release --project tests/TimeoutBudget.Benchmarks -- soak {budgets}`.").AppendLine();
        md.AppendLine("| Measure | Value |").AppendLine("| --- | ---: |");
        md.AppendLine($"| Budgets opened and disposed | {Measure.N(result.Opened)} |");
        md.AppendLine($"| Concurrent flows | {settings.Workers} |");
        md.AppendLine($"| Invariant checks made | {Measure.N(result.Checks)} |");
        md.AppendLine($"| Children that expired mid-chain / caller cancellations / children refused under an expired parent | {Measure.N(result.Expired)} / {Measure.N(result.CallerCancelled)} / {Measure.N(result.RefusedUnderExpiredParent)} |");
        md.AppendLine($"| Violations | {result.Violations.Count} |");
        md.AppendLine($"| Timers created (pooled leases reuse them) | {Measure.N(result.TimersCreated)} |");
        md.AppendLine($"| Timers alive at the end (pool holds at most {result.PoolRetention}) | {result.LiveTimersAtEnd} |");
        md.AppendLine($"| Retained heap: first sample / peak / last | {Kb(first)} / {Kb(peak)} / {Kb(last)} |");
        md.AppendLine($"| Retained-heap slope over the second half | {Measure.F(slope * 1_000_000, 1)} bytes per million budgets |");
        md.AppendLine($"| Duration | {Measure.F(result.Elapsed.TotalSeconds, 1)} s ({Measure.N(result.Opened / result.Elapsed.TotalSeconds)} budgets/s) |");
        foreach (var violation in result.Violations.Take(10))
        {
            md.AppendLine().Append("- violation: ").Append(violation);
        }

        md.AppendLine().AppendLine("Plot: [`docs/images/soak.svg`](../../../docs/images/soak.svg)");
        var kept = result.Violations.Count == 0 && result.LiveTimersAtEnd <= result.PoolRetention;
        return (md.ToString(), Svg(result), kept);
    }

    private static string Kb(long bytes) => Measure.N(bytes / 1024.0) + " KB";

    private static double Slope(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count < 2)
        {
            return 0;
        }

        var mx = points.Average(p => p.X);
        var my = points.Average(p => p.Y);
        var den = points.Sum(p => (p.X - mx) * (p.X - mx));
        return den == 0 ? 0 : points.Sum(p => (p.X - mx) * (p.Y - my)) / den;
    }

    private static string Svg(SoakResult result)
    {
        const int width = 900, height = 360, left = 80, right = 70, top = 50, bottom = 50;
        var samples = result.Samples;
        var xMax = Math.Max(1, samples[^1].Seconds);
        var yMax = Math.Max(1, samples.Max(s => s.RetainedBytes)) * 1.2 / 1024.0 / 1024.0;
        var timersMax = Math.Max(10, samples.Max(s => s.LiveTimers)) * 1.2;
        double X(double t) => left + t / xMax * (width - left - right);
        double Y(double mb) => top + (height - top - bottom) * (1 - mb / yMax);
        double T(double timers) => top + (height - top - bottom) * (1 - timers / timersMax);
        string P(double v) => v.ToString("F1", Measure.Invariant);

        var svg = new StringBuilder();
        svg.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        svg.AppendLine($"<text x=\"{width / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">Soak: {Measure.N(result.Opened)} budgets, retained heap after full GC (MB, left) and live timers (right)</text>");
        svg.AppendLine($"<rect x=\"{left}\" y=\"{top}\" width=\"{width - left - right}\" height=\"{height - top - bottom}\" fill=\"none\" stroke=\"#333\"/>");
        for (var i = 0; i <= 4; i++)
        {
            var mb = yMax * i / 4;
            svg.AppendLine($"<text x=\"{left - 8}\" y=\"{P(Y(mb) + 4)}\" text-anchor=\"end\">{mb.ToString("F1", Measure.Invariant)}</text>");
            svg.AppendLine($"<text x=\"{width - right + 8}\" y=\"{P(T(timersMax * i / 4) + 4)}\">{(timersMax * i / 4).ToString("F0", Measure.Invariant)}</text>");
            var t = xMax * i / 4;
            svg.AppendLine($"<text x=\"{P(X(t))}\" y=\"{height - bottom + 18}\" text-anchor=\"middle\">{t.ToString("F0", Measure.Invariant)} s</text>");
        }

        svg.AppendLine($"<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{string.Join(' ', samples.Select(s => $"{P(X(s.Seconds))},{P(Y(s.RetainedBytes / 1024.0 / 1024.0))}"))}\"/>");
        svg.AppendLine($"<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" stroke-dasharray=\"4,3\" points=\"{string.Join(' ', samples.Select(s => $"{P(X(s.Seconds))},{P(T(s.LiveTimers))}"))}\"/>");
        svg.AppendLine($"<line x1=\"{left}\" y1=\"{height - 12}\" x2=\"{left + 24}\" y2=\"{height - 12}\" stroke=\"#1f77b4\" stroke-width=\"2\"/><text x=\"{left + 30}\" y=\"{height - 8}\">retained heap (MB)</text>");
        svg.AppendLine($"<line x1=\"{left + 220}\" y1=\"{height - 12}\" x2=\"{left + 244}\" y2=\"{height - 12}\" stroke=\"#d62728\" stroke-dasharray=\"4,3\"/><text x=\"{left + 250}\" y=\"{height - 8}\">live timers</text>");
        svg.AppendLine("</svg>");
        return svg.ToString();
    }
}
