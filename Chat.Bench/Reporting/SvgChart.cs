using System.Globalization;
using System.Net;
using System.Text;

namespace Chat.Bench.Reporting;

/// <summary>
/// A small SVG writer: per scenario two panels (TTFT, per-token lag), one row per arm, a bar to p50 and a thinner
/// bar to p99 on a log scale (REST's TTFT is the whole reply, gRPC's lag a fraction of a millisecond).
/// </summary>
public static class SvgChart
{
    private const int RowHeight = 16;
    private const int LabelWidth = 120;
    private const int PanelWidth = 360;
    private const int PanelGap = 40;
    private const double MinMs = 0.01;

    private static readonly Dictionary<string, string> Colours = new()
    {
        ["A0"] = "#6b7280", ["A1"] = "#2563eb", ["A2"] = "#dc2626", ["A2n"] = "#16a34a",
    };

    public static string Render(BenchReport report)
    {
        var scenarios = report.Scenarios.Where(s => s.Arms.Any(a => a.Ttft.Count > 0)).ToList();
        var body = new StringBuilder();
        var y = 40;
        foreach (var scenario in scenarios)
        {
            body.Append(Text(10, y, $"{scenario.Name}: {scenario.Description}", 13, "bold"));
            y += 22;
            var arms = scenario.Arms.Where(a => a.Ttft.Count > 0).ToList();
            var max = Math.Max(1, arms.Max(a => Math.Max(a.Ttft.P99, a.Lag.P99)));
            Panel(body, LabelWidth, y, "TTFT (ms)", arms, a => (a.Ttft.P50, a.Ttft.P99), max);
            Panel(body, LabelWidth + PanelWidth + PanelGap, y, "per-token lag (ms)", arms, a => a.Lag.Count == 0 ? (double.NaN, double.NaN) : (a.Lag.P50, a.Lag.P99), max);
            for (var i = 0; i < arms.Count; i++)
            {
                var a = arms[i];
                body.Append(Text(10, y + 18 + i * RowHeight + 12, a.Arm == "A0" ? "A0 llm (direct)" : $"{a.Arm} {a.Transport}", 11, "normal", Colours[a.Arm]));
            }

            y += 18 + arms.Count * RowHeight + 40;
        }

        var width = LabelWidth + 2 * PanelWidth + PanelGap + 20;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}" font-family="sans-serif">""");
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="{width}" height="{y}" fill="white"/>""");
        svg.Append(Text(10, 20, $"Chat.Bench {report.StartedAt:yyyy-MM-dd HH:mm} UTC · {report.Machine} · load avg {report.LoadAverageAtStart:F1}→{report.LoadAverageAtEnd:F1} · bar p50, whisker p99, log scale · grey A0 direct LLM, blue A1 transport, red A2 gateway→transport, green A2n nginx→transport", 11, "normal"));
        svg.Append(body);
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static void Panel(StringBuilder svg, int x, int y, string title, List<ArmReport> arms, Func<ArmReport, (double P50, double P99)> value, double max)
    {
        svg.Append(Text(x, y + 10, title, 11, "bold"));
        var top = y + 18;
        var height = arms.Count * RowHeight;
        // Decade grid lines.
        for (var decade = MinMs; decade <= max * 10; decade *= 10)
        {
            var gx = x + Scale(decade, max);
            if (gx > x + PanelWidth)
            {
                break;
            }

            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{gx:F1}" y1="{top}" x2="{gx:F1}" y2="{top + height}" stroke="#e5e7eb"/>""");
            svg.Append(Text(gx - 8, top + height + 12, decade.ToString("0.##", CultureInfo.InvariantCulture), 9, "normal"));
        }

        for (var i = 0; i < arms.Count; i++)
        {
            var (p50, p99) = value(arms[i]);
            var rowY = top + i * RowHeight;
            if (double.IsNaN(p50))
            {
                svg.Append(Text(x + 4, rowY + 12, "n/a (whole reply)", 9, "normal", "#9ca3af"));
                continue;
            }

            var colour = Colours[arms[i].Arm];
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{x}" y="{rowY + 3}" width="{Scale(p50, max):F1}" height="{RowHeight - 6}" fill="{colour}" opacity="0.85"><title>p50 {p50} ms</title></rect>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{x + Scale(p50, max):F1}" y1="{rowY + RowHeight / 2}" x2="{x + Scale(p99, max):F1}" y2="{rowY + RowHeight / 2}" stroke="{colour}" stroke-width="2"><title>p99 {p99} ms</title></line>""");
            svg.Append(Text(x + Scale(p99, max) + 4, rowY + 12, $"{p50:0.###} / {p99:0.###}", 9, "normal"));
        }
    }

    private static double Scale(double ms, double max)
    {
        var top = Math.Log10(max * 3 / MinMs);
        var value = Math.Log10(Math.Max(ms, MinMs) / MinMs);
        return Math.Clamp(value / top, 0, 1) * (PanelWidth - 70);
    }

    private static string Text(double x, double y, string text, int size, string weight, string colour = "#111827") =>
        string.Create(CultureInfo.InvariantCulture, $"""<text x="{x:F1}" y="{y:F1}" font-size="{size}" font-weight="{weight}" fill="{colour}">{WebUtility.HtmlEncode(text)}</text>""");
}
