using System.ComponentModel.DataAnnotations;

namespace Chat.Dashboard.Telemetry;

/// <summary>Caps on what the dashboard keeps in memory (Aspire's Dashboard:TelemetryLimits, counted over all resources).</summary>
public sealed class TelemetryLimits
{
    [Range(1, 10_000_000)]
    public int MaxSpanCount { get; set; } = 10_000;

    [Range(1, 10_000_000)]
    public int MaxLogCount { get; set; } = 10_000;

    [Range(1, 10_000_000)]
    public int MaxMetricPointCount { get; set; } = 50_000;

    /// <summary>Attributes kept per span, log record or point; the rest are dropped at intake.</summary>
    [Range(1, 10_000)]
    public int MaxAttributeCount { get; set; } = 128;

    /// <summary>Longest attribute value kept, in characters; longer ones are cut and end in "…".</summary>
    [Range(16, 1_000_000)]
    public int MaxAttributeLength { get; set; } = 4096;
}
