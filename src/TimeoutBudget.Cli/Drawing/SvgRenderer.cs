using System.Globalization;
using System.Security;
using System.Text;

namespace TimeoutBudget.Cli.Drawing;

/// <summary>Renders a <see cref="PlanTimeline"/> as a standalone SVG: nested bars on a time axis, margins amber, reserves blue, violations red.</summary>
internal static class SvgRenderer
{
    private const double LabelWidth = 230;
    private const double PlotWidth = 900;
    private const double RowHeight = 42;
    private const double BarHeight = 20;
    private const double Top = 56;
    private const double Width = LabelWidth + PlotWidth + 40;
    private static readonly string[] DepthColours = ["#2f6db5", "#3f85cc", "#56a0de", "#74b5e8", "#93c8ef"];

    public static string Render(PlanTimeline timeline)
    {
        var scaleMax = timeline.TotalSeconds * 1.08;
        double X(double seconds) => LabelWidth + (Math.Min(seconds, scaleMax) / scaleMax * PlotWidth);

        var messages = timeline.Violations.SelectMany(v => Wrap($"{v.Path}: {v.Message}", 150)).ToList();
        var axisY = Top + (timeline.Bars.Count * RowHeight) + 8;
        var legendY = axisY + 44;
        var height = legendY + 36 + (messages.Count * 18) + 20;

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width:0}\" height=\"{height:0}\" viewBox=\"0 0 {Width:0} {height:0}\" font-family=\"Segoe UI, Helvetica, Arial, sans-serif\" font-size=\"13\">\n");
        svg.Append("<defs><pattern id=\"delay\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#eeeeee\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#999999\" stroke-width=\"2\"/></pattern></defs>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width:0}\" height=\"{height:0}\" fill=\"#ffffff\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"16\" y=\"28\" font-size=\"18\" font-weight=\"bold\">Timeout plan: {Escape(timeline.Title)}</text>\n");
        var status = timeline.Violations.Count == 0 ? "every inner timeout expires before its outer one" : $"{timeline.Violations.Count} violation(s)";
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"16\" y=\"46\" fill=\"{(timeline.Violations.Count == 0 ? "#2e7d32" : "#c62828")}\">{Escape(status)}</text>\n");

        foreach (var bar in timeline.Bars)
        {
            var y = Top + (bar.Row * RowHeight);
            var barY = y + ((RowHeight - BarHeight) / 2);
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{16 + (bar.Depth * 14)}\" y=\"{barY + 15:0.#}\"{(bar.Violating ? " fill=\"#c62828\" font-weight=\"bold\"" : string.Empty)}>{Escape(bar.Node.Layer)}</text>\n");
            var fill = bar.Violating ? "#d9534f" : DepthColours[Math.Min(bar.Depth, DepthColours.Length - 1)];

            if (bar.Unbounded)
            {
                var x0 = X(bar.Start);
                var x1 = LabelWidth + PlotWidth;
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x0:0.#}\" y=\"{barY:0.#}\" width=\"{x1 - x0:0.#}\" height=\"{BarHeight}\" fill=\"{fill}\" fill-opacity=\"0.35\" stroke=\"{fill}\" stroke-dasharray=\"6 4\"/>\n");
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x1 - 6:0.#}\" y=\"{barY + 15:0.#}\" text-anchor=\"end\" fill=\"#c62828\" font-weight=\"bold\">no timeout ∞ →</text>\n");
                continue;
            }

            foreach (var segment in bar.Segments)
            {
                var x0 = X(segment.Start);
                var w = Math.Max(1, X(segment.Start + segment.Length) - x0);
                svg.Append(segment.Kind == SegmentKind.Attempt
                    ? string.Create(CultureInfo.InvariantCulture, $"<rect x=\"{x0:0.#}\" y=\"{barY:0.#}\" width=\"{w:0.#}\" height=\"{BarHeight}\" fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"1\"><title>{Escape(bar.Node.Path)} attempt {segment.Attempt}: {Escape(DurationText.Format(TimeSpan.FromSeconds(segment.Length)))}</title></rect>\n")
                    : string.Create(CultureInfo.InvariantCulture, $"<rect x=\"{x0:0.#}\" y=\"{barY + 4:0.#}\" width=\"{w:0.#}\" height=\"{BarHeight - 8}\" fill=\"url(#delay)\"><title>delay before attempt {segment.Attempt}: {Escape(DurationText.Format(TimeSpan.FromSeconds(segment.Length)))}</title></rect>\n"));
            }

            if (bar.Node.Children.Count > 0)
            {
                // The parent's deadline, drawn across every row it contains: nothing below may cross it.
                var lastRow = timeline.Bars.Last(b => b.Node.Path.StartsWith(bar.Node.Path + "/", StringComparison.Ordinal)).Row;
                var deadlineX = X(bar.Start + bar.Node.Timeout.TotalSeconds);
                svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{deadlineX:0.#}\" y1=\"{y + 2:0.#}\" x2=\"{deadlineX:0.#}\" y2=\"{Top + ((lastRow + 1) * RowHeight) - 2:0.#}\" stroke=\"#222222\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"><title>{Escape(bar.Node.Layer)} deadline</title></line>\n");
            }

            if (bar.MarginStart is { } marginStart)
            {
                var marginEnd = bar.ReserveStart ?? (bar.Start + bar.Node.Timeout.TotalSeconds);
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{X(marginStart):0.#}\" y=\"{y + 2:0.#}\" width=\"{Math.Max(1, X(marginEnd) - X(marginStart)):0.#}\" height=\"{RowHeight - 4}\" fill=\"#f0ad4e\" fill-opacity=\"0.55\"><title>margin {Escape(DurationText.Format(TimeSpan.FromSeconds(marginEnd - marginStart)))}: children must end before it</title></rect>\n");
            }

            if (bar.ReserveStart is { } reserveStart)
            {
                var reserveEnd = bar.Start + bar.Node.Timeout.TotalSeconds;
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{X(reserveStart):0.#}\" y=\"{y + 2:0.#}\" width=\"{Math.Max(1, X(reserveEnd) - X(reserveStart)):0.#}\" height=\"{RowHeight - 4}\" fill=\"#5bc0de\" fill-opacity=\"0.6\"><title>reserve {Escape(DurationText.Format(bar.Node.Reserve))} for the fallback</title></rect>\n");
            }

            var label = Describe(bar.Node);
            var end = X(bar.End ?? bar.Start);
            var inside = end - X(bar.Start) > (label.Length * 7) + 12;
            svg.Append(inside
                ? string.Create(CultureInfo.InvariantCulture, $"<text x=\"{end - 6:0.#}\" y=\"{barY + 15:0.#}\" text-anchor=\"end\" fill=\"#ffffff\">{Escape(label)}</text>\n")
                : string.Create(CultureInfo.InvariantCulture, $"<text x=\"{Math.Min(end + 6, Width - 10):0.#}\" y=\"{barY + 15:0.#}\"{(end + 6 + (label.Length * 7) > Width ? " text-anchor=\"end\"" : string.Empty)} fill=\"#333333\">{Escape(label)}</text>\n"));
        }

        AppendAxis(svg, timeline.TotalSeconds, scaleMax, axisY, X);
        AppendLegend(svg, legendY);
        var lineY = legendY + 36;
        foreach (var message in messages)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"16\" y=\"{lineY:0}\" fill=\"#c62828\">{Escape(message)}</text>\n");
            lineY += 18;
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Describe(BudgetPlanNode node) =>
        node.Retry is { MaxAttempts: > 1 } retry
            ? $"{DurationText.Format(node.Timeout)} × {retry.MaxAttempts} + delays = {DurationText.Format(node.WorstCase)}"
            : DurationText.Format(node.Timeout) + (node.Reserve > TimeSpan.Zero ? $" (reserve {DurationText.Format(node.Reserve)})" : string.Empty);

    private static void AppendAxis(StringBuilder svg, double total, double scaleMax, double y, Func<double, double> x)
    {
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{LabelWidth}\" y1=\"{y:0}\" x2=\"{LabelWidth + PlotWidth}\" y2=\"{y:0}\" stroke=\"#555555\"/>\n");
        var step = NiceStep(total / 6);
        for (var t = 0.0; t <= scaleMax + 1e-9; t += step)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x(t):0.#}\" y1=\"{y:0}\" x2=\"{x(t):0.#}\" y2=\"{y + 5:0}\" stroke=\"#555555\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x(t):0.#}\" y=\"{y + 19:0}\" text-anchor=\"middle\" fill=\"#555555\" font-size=\"11\">{(t == 0 ? "0" : Escape(DurationText.Format(TimeSpan.FromSeconds(t))))}</text>\n");
        }
    }

    private static void AppendLegend(StringBuilder svg, double y)
    {
        var items = new (string Fill, string Label)[]
        {
            (DepthColours[0], "attempt"), ("url(#delay)", "retry delay"), ("#f0ad4e", "margin"), ("#5bc0de", "reserve"), ("#d9534f", "violation"),
        };
        var x = 16.0;
        foreach (var (fill, label) in items)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0}\" y=\"{y - 11:0}\" width=\"14\" height=\"14\" fill=\"{fill}\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 20:0}\" y=\"{y:0}\">{label}</text>\n");
            x += 40 + (label.Length * 7);
        }
    }

    private static double NiceStep(double raw)
    {
        if (raw <= 0)
        {
            return 1;
        }

        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var fraction = raw / magnitude;
        return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
    }

    private static IEnumerable<string> Wrap(string text, int width)
    {
        var line = new StringBuilder();
        foreach (var word in text.Split(' '))
        {
            if (line.Length + word.Length + 1 > width && line.Length > 0)
            {
                yield return line.ToString();
                line.Clear().Append("    ");
            }

            line.Append(line.Length > 0 && line[^1] != ' ' ? " " : string.Empty).Append(word);
        }

        if (line.Length > 0)
        {
            yield return line.ToString();
        }
    }

    internal static string Escape(string text) => SecurityElement.Escape(text) ?? string.Empty;
}
