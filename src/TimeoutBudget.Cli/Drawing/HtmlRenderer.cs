using System.Text;

namespace TimeoutBudget.Cli.Drawing;

/// <summary>An HTML page with the SVG timeline and a table of every layer, for a browser or a CI artifact.</summary>
internal static class HtmlRenderer
{
    public static string Render(PlanTimeline timeline, string svg, string source)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<title>Timeout plan: ").Append(SvgRenderer.Escape(timeline.Title)).Append("</title>\n")
            .Append("<style>body{font-family:Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin-top:16px}")
            .Append("td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}th{background:#f3f3f3}.bad{color:#c62828;font-weight:bold}.ok{color:#2e7d32}</style>\n")
            .Append("</head>\n<body>\n")
            .Append("<p>Source: <code>").Append(SvgRenderer.Escape(source)).Append("</code></p>\n")
            .Append(svg)
            .Append("<table>\n<tr><th>Layer</th><th>Timeout</th><th>Retry</th><th>Worst case</th><th>Margin for children</th><th>Reserve</th><th>Status</th></tr>\n");
        foreach (var bar in timeline.Bars)
        {
            var node = bar.Node;
            var issues = timeline.Violations.Where(v => v.Path == node.Path).Select(v => v.Message).ToList();
            html.Append("<tr><td>").Append(SvgRenderer.Escape(node.Path))
                .Append("</td><td>").Append(SvgRenderer.Escape(DurationText.Format(node.Timeout)))
                .Append("</td><td>").Append(SvgRenderer.Escape(node.Retry?.ToString() ?? "none"))
                .Append("</td><td>").Append(SvgRenderer.Escape(DurationText.Format(node.WorstCase)))
                .Append("</td><td>").Append(SvgRenderer.Escape(node.Children.Count > 0 ? node.EffectiveMargin.ToString() : "—"))
                .Append("</td><td>").Append(SvgRenderer.Escape(node.Reserve > TimeSpan.Zero ? DurationText.Format(node.Reserve) : "—"))
                .Append("</td><td class=\"").Append(issues.Count > 0 ? "bad" : "ok").Append("\">")
                .Append(issues.Count > 0 ? SvgRenderer.Escape(string.Join(" ", issues)) : "aligned")
                .Append("</td></tr>\n");
        }

        html.Append("</table>\n</body>\n</html>\n");
        return html.ToString();
    }
}
