using System.Text;

namespace TimeoutBudget.Benchmarks;

/// <summary>A hand-rolled SVG of the starvation runs: goodput and queue length over time, both runs, slow period shaded.</summary>
internal static class Plot
{
    private const int Width = 960;
    private const int PanelHeight = 230;
    private const int Left = 70;
    private const int Right = 20;
    private const int Top = 50;
    private const int Gap = 70;
    private static readonly string[] Colors = { "#d62728", "#1f77b4", "#2ca02c" };

    public static string Starvation(StarvationSettings s, IReadOnlyList<StarvationExperiment.RunResult> runs)
    {
        var seconds = (s.Total + s.DrainBound).TotalSeconds;
        var bucket = s.Bucket.TotalSeconds;
        var goodputMax = Math.Max(s.FastCapacity, runs.Max(run => run.Goodput.DefaultIfEmpty().Max()) / bucket) * 1.1;
        var queueMax = Math.Max(10, runs.Max(run => run.Queue.DefaultIfEmpty().Max())) * 1.1;
        var height = Top + PanelHeight * 2 + Gap + 80;

        var svg = new StringBuilder();
        svg.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" font-family=\"sans-serif\" font-size=\"12\">")
            .AppendLine($"<rect width=\"{Width}\" height=\"{height}\" fill=\"white\"/>")
            .AppendLine($"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Slow dependency: misaligned timeouts vs TimeoutBudget ({s.Callers} callers, {s.Workers} fixed threads, wait {s.Outer.TotalMilliseconds:0} ms)</text>");

        Panel(svg, Top, "goodput (successful responses / s)", goodputMax, seconds, s,
            runs.Select((run, i) => (run.Goodput.Take(run.Sampled).Select(v => v / bucket).ToArray(), Colors[i % Colors.Length])).ToArray(),
            capacity: true);
        Panel(svg, Top + PanelHeight + Gap, "work queue length (items waiting for a pool thread)", queueMax, seconds, s,
            runs.Select((run, i) => (run.Queue.Take(run.Sampled).Select(v => (double)v).ToArray(), Colors[i % Colors.Length])).ToArray(),
            capacity: false);

        var legendY = height - 22;
        for (var i = 0; i < runs.Count; i++)
        {
            var x = Left + i * 250;
            svg.AppendLine($"<line x1=\"{x}\" y1=\"{legendY}\" x2=\"{x + 24}\" y2=\"{legendY}\" stroke=\"{Colors[i % Colors.Length]}\" stroke-width=\"2\"/><text x=\"{x + 30}\" y=\"{legendY + 4}\" font-size=\"11\">{Escape(runs[i].Name)}</text>");
        }

        svg.AppendLine($"<line x1=\"{Left}\" y1=\"{legendY - 20}\" x2=\"{Left + 24}\" y2=\"{legendY - 20}\" stroke=\"#555\" stroke-dasharray=\"5,4\"/><text x=\"{Left + 30}\" y=\"{legendY - 16}\" font-size=\"11\">nominal dependency capacity</text>")
            .AppendLine($"<rect x=\"{Left + 250}\" y=\"{legendY - 27}\" width=\"24\" height=\"14\" fill=\"#f2c94c\" fill-opacity=\"0.3\"/><text x=\"{Left + 280}\" y=\"{legendY - 16}\" font-size=\"11\">slow period</text>")
            .AppendLine("</svg>");
        return svg.ToString();
    }

    private static void Panel(StringBuilder svg, int top, string title, double yMax, double seconds, StarvationSettings s,
        (double[] Values, string Color)[] series, bool capacity)
    {
        var plotWidth = Width - Left - Right;
        double X(double t) => Left + t / seconds * plotWidth;
        double Y(double v) => top + PanelHeight - Math.Min(v, yMax) / yMax * PanelHeight;

        svg.AppendLine($"<text x=\"{Left}\" y=\"{top - 8}\" font-size=\"13\">{Escape(title)}</text>")
            .AppendLine($"<rect x=\"{F(X(s.Before.TotalSeconds))}\" y=\"{top}\" width=\"{F(X((s.Before + s.Slow).TotalSeconds) - X(s.Before.TotalSeconds))}\" height=\"{PanelHeight}\" fill=\"#f2c94c\" fill-opacity=\"0.3\"/>")
            .AppendLine($"<rect x=\"{Left}\" y=\"{top}\" width=\"{plotWidth}\" height=\"{PanelHeight}\" fill=\"none\" stroke=\"#333\"/>");
        for (var i = 0; i <= 4; i++)
        {
            var v = yMax / 1.1 * i / 4;
            svg.AppendLine($"<line x1=\"{Left}\" y1=\"{F(Y(v))}\" x2=\"{Left + plotWidth}\" y2=\"{F(Y(v))}\" stroke=\"#ddd\"/><text x=\"{Left - 6}\" y=\"{F(Y(v) + 4)}\" text-anchor=\"end\">{v:0}</text>");
        }

        for (var t = 0; t <= (int)seconds; t++)
        {
            svg.AppendLine($"<line x1=\"{F(X(t))}\" y1=\"{top + PanelHeight}\" x2=\"{F(X(t))}\" y2=\"{top + PanelHeight + 4}\" stroke=\"#333\"/><text x=\"{F(X(t))}\" y=\"{top + PanelHeight + 17}\" text-anchor=\"middle\">{t}</text>");
        }

        svg.AppendLine($"<text x=\"{Left + plotWidth / 2}\" y=\"{top + PanelHeight + 32}\" text-anchor=\"middle\">seconds</text>");
        if (capacity)
        {
            var slowStart = s.Before.TotalSeconds;
            var slowEnd = (s.Before + s.Slow).TotalSeconds;
            var points = $"{F(X(0))},{F(Y(s.FastCapacity))} {F(X(slowStart))},{F(Y(s.FastCapacity))} {F(X(slowStart))},{F(Y(s.SlowCapacity))} " +
                         $"{F(X(slowEnd))},{F(Y(s.SlowCapacity))} {F(X(slowEnd))},{F(Y(s.FastCapacity))} {F(X(s.Total.TotalSeconds))},{F(Y(s.FastCapacity))}";
            svg.AppendLine($"<polyline points=\"{points}\" fill=\"none\" stroke=\"#555\" stroke-dasharray=\"5,4\"/>");
        }

        foreach (var (values, color) in series)
        {
            var points = string.Join(' ', values.Select((v, i) => $"{F(X((i + 0.5) * s.Bucket.TotalSeconds))},{F(Y(v))}"));
            svg.AppendLine($"<polyline points=\"{points}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>");
        }
    }

    private static string F(double value) => value.ToString("0.#", Measure.Invariant);

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
