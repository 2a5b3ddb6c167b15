namespace Chat.Dashboard.Telemetry;

/// <summary>The process that sent telemetry: OTLP resource attributes service.name and service.instance.id.</summary>
public sealed record TelemetryResource(string ServiceName, string? InstanceId)
{
    /// <summary>The replica name when the sender set one (the AppHost sets "sse-0"), else the service name.</summary>
    public string Name => InstanceId ?? ServiceName;

    public bool Matches(string? filter) =>
        string.IsNullOrEmpty(filter)
        || string.Equals(filter, ServiceName, StringComparison.OrdinalIgnoreCase)
        || string.Equals(filter, InstanceId, StringComparison.OrdinalIgnoreCase);
}

public sealed record SpanEventData(string Name, DateTimeOffset Timestamp, IReadOnlyDictionary<string, string> Attributes);

public sealed record SpanLinkData(string TraceId, string SpanId, IReadOnlyDictionary<string, string> Attributes);

public sealed record SpanData(
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    string Name,
    string Kind,
    DateTimeOffset StartTime,
    DateTimeOffset EndTime,
    string Status,
    string? StatusMessage,
    TelemetryResource Resource,
    string Scope,
    IReadOnlyDictionary<string, string> Attributes,
    IReadOnlyList<SpanEventData> Events,
    IReadOnlyList<SpanLinkData> Links)
{
    public double DurationMs => (EndTime - StartTime).TotalMilliseconds;

    public bool IsError => Status == "Error";

    public GenAiSummary? GenAi => GenAiSummary.From(this);
}

/// <summary>
/// What the trace view shows for a generative-AI span (OpenTelemetry gen_ai semantic conventions): model, token
/// usage and the time to the first streamed token, taken from an attribute when the service records one, otherwise
/// from the first event whose name mentions the first token.
/// </summary>
public sealed record GenAiSummary(
    string? Operation,
    string? System,
    string? RequestModel,
    string? ResponseModel,
    long? InputTokens,
    long? OutputTokens,
    double? TimeToFirstTokenMs)
{
    public static GenAiSummary? From(SpanData span)
    {
        var attributes = span.Attributes;
        if (!attributes.Keys.Any(key => key.StartsWith("gen_ai.", StringComparison.Ordinal)))
        {
            return null;
        }

        return new GenAiSummary(
            attributes.GetValueOrDefault("gen_ai.operation.name"),
            attributes.GetValueOrDefault("gen_ai.provider.name") ?? attributes.GetValueOrDefault("gen_ai.system"),
            attributes.GetValueOrDefault("gen_ai.request.model"),
            attributes.GetValueOrDefault("gen_ai.response.model"),
            ParseLong(attributes.GetValueOrDefault("gen_ai.usage.input_tokens")),
            ParseLong(attributes.GetValueOrDefault("gen_ai.usage.output_tokens")),
            TimeToFirstToken(span));
    }

    private static double? TimeToFirstToken(SpanData span)
    {
        foreach (var (key, value) in span.Attributes)
        {
            if (key.Contains("time_to_first_token", StringComparison.Ordinal)
                && double.TryParse(value, global::System.Globalization.CultureInfo.InvariantCulture, out var number))
            {
                // Semantic conventions record durations in seconds; a key ending in _ms is already milliseconds.
                return key.EndsWith("_ms", StringComparison.Ordinal) ? number : number * 1000;
            }
        }

        var firstToken = span.Events.FirstOrDefault(e =>
            e.Name.Contains("first_token", StringComparison.OrdinalIgnoreCase)
            || e.Name.Contains("first token", StringComparison.OrdinalIgnoreCase)
            || e.Name.Contains("first_chunk", StringComparison.OrdinalIgnoreCase));
        return firstToken is null ? null : (firstToken.Timestamp - span.StartTime).TotalMilliseconds;
    }

    private static long? ParseLong(string? value) => long.TryParse(value, out var number) ? number : null;
}

public sealed record LogEntry(
    long Sequence,
    DateTimeOffset Timestamp,
    string Level,
    int SeverityNumber,
    string Message,
    string Category,
    string? EventName,
    string? TraceId,
    string? SpanId,
    TelemetryResource Resource,
    IReadOnlyDictionary<string, string> Attributes);

/// <summary>One instrument as it was described by its sender.</summary>
public sealed record InstrumentInfo(string Name, string Description, string Unit, string Type, string Scope);

public sealed record HistogramValue(ulong Count, double Sum, double? Min, double? Max, IReadOnlyList<double> ExplicitBounds, IReadOnlyList<ulong> BucketCounts);

/// <summary>
/// One exported data point. For sums and histograms with cumulative temporality (the OpenTelemetry .NET default)
/// the value is the running total since <see cref="StartTime"/>; charts show rates and means from the differences.
/// </summary>
public sealed record MetricPoint(
    string Instrument,
    TelemetryResource Resource,
    DateTimeOffset StartTime,
    DateTimeOffset Timestamp,
    double? Value,
    HistogramValue? Histogram,
    bool IsCumulative,
    IReadOnlyDictionary<string, string> Attributes);

public sealed record TraceSummary(
    string TraceId,
    string RootName,
    string? RootResource,
    DateTimeOffset StartTime,
    double DurationMs,
    int SpanCount,
    int ErrorCount,
    IReadOnlyList<string> Resources,
    bool HasGenAi)
{
    public bool HasError => ErrorCount > 0;
}

public sealed record TraceDetail(TraceSummary Summary, IReadOnlyList<SpanData> Spans);

public sealed record TelemetryCounts(
    int Spans,
    int Traces,
    int Logs,
    int MetricPoints,
    long DroppedSpans,
    long DroppedLogs,
    long DroppedMetricPoints,
    int MaxSpans,
    int MaxLogs,
    int MaxMetricPoints);
