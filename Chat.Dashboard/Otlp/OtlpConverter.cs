using System.Globalization;
using System.Text.RegularExpressions;
using Chat.Dashboard.Telemetry;
using Google.Protobuf;
using Google.Protobuf.Collections;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Metrics.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Chat.Dashboard.Otlp;

/// <summary>Turns OTLP messages into the store's records (hex ids, strings for attribute values, UTC timestamps).</summary>
public sealed partial class OtlpConverter(TelemetryLimits limits)
{
    public void AddSpans(TelemetryStore store, RepeatedField<ResourceSpans> resourceSpans)
    {
        var spans = new List<SpanData>();
        foreach (var rs in resourceSpans)
        {
            var resource = ToResource(rs.Resource);
            foreach (var scope in rs.ScopeSpans)
            {
                foreach (var span in scope.Spans)
                {
                    spans.Add(new SpanData(
                        ToHex(span.TraceId),
                        ToHex(span.SpanId),
                        span.ParentSpanId.IsEmpty ? null : ToHex(span.ParentSpanId),
                        span.Name,
                        span.Kind switch
                        {
                            Span.Types.SpanKind.Server => "Server",
                            Span.Types.SpanKind.Client => "Client",
                            Span.Types.SpanKind.Producer => "Producer",
                            Span.Types.SpanKind.Consumer => "Consumer",
                            _ => "Internal",
                        },
                        ToTime(span.StartTimeUnixNano),
                        ToTime(span.EndTimeUnixNano),
                        span.Status?.Code switch
                        {
                            Status.Types.StatusCode.Error => "Error",
                            Status.Types.StatusCode.Ok => "Ok",
                            _ => "Unset",
                        },
                        string.IsNullOrEmpty(span.Status?.Message) ? null : span.Status.Message,
                        resource,
                        scope.Scope?.Name ?? "",
                        ToAttributes(span.Attributes),
                        [.. span.Events.Select(e => new SpanEventData(e.Name, ToTime(e.TimeUnixNano), ToAttributes(e.Attributes)))],
                        [.. span.Links.Select(l => new SpanLinkData(ToHex(l.TraceId), ToHex(l.SpanId), ToAttributes(l.Attributes)))]));
                }
            }
        }

        store.AddSpans(spans);
    }

    public void AddLogs(TelemetryStore store, RepeatedField<ResourceLogs> resourceLogs)
    {
        var entries = new List<Func<long, LogEntry>>();
        foreach (var rl in resourceLogs)
        {
            var resource = ToResource(rl.Resource);
            foreach (var scope in rl.ScopeLogs)
            {
                foreach (var record in scope.LogRecords)
                {
                    var severity = (int)record.SeverityNumber;
                    var timestamp = record.TimeUnixNano != 0 ? record.TimeUnixNano : record.ObservedTimeUnixNano;
                    var attributes = ToAttributes(record.Attributes);
                    entries.Add(sequence => new LogEntry(
                        sequence,
                        ToTime(timestamp),
                        LevelName(severity, record.SeverityText),
                        severity,
                        record.Body is null ? "" : Truncate(FormatMessage(ToText(record.Body), attributes)),
                        scope.Scope?.Name ?? "",
                        string.IsNullOrEmpty(record.EventName) ? null : record.EventName,
                        record.TraceId.IsEmpty ? null : ToHex(record.TraceId),
                        record.SpanId.IsEmpty ? null : ToHex(record.SpanId),
                        resource,
                        attributes));
                }
            }
        }

        store.AddLogs(entries);
    }

    public void AddMetrics(TelemetryStore store, RepeatedField<ResourceMetrics> resourceMetrics)
    {
        var instruments = new List<InstrumentInfo>();
        var points = new List<MetricPoint>();
        foreach (var rm in resourceMetrics)
        {
            var resource = ToResource(rm.Resource);
            foreach (var scope in rm.ScopeMetrics)
            {
                foreach (var metric in scope.Metrics)
                {
                    var type = metric.DataCase switch
                    {
                        Metric.DataOneofCase.Gauge => "Gauge",
                        Metric.DataOneofCase.Sum => metric.Sum.IsMonotonic ? "Counter" : "UpDownCounter",
                        Metric.DataOneofCase.Histogram => "Histogram",
                        Metric.DataOneofCase.ExponentialHistogram => "ExponentialHistogram",
                        Metric.DataOneofCase.Summary => "Summary",
                        _ => "Unknown",
                    };
                    instruments.Add(new InstrumentInfo(metric.Name, metric.Description, metric.Unit, type, scope.Scope?.Name ?? ""));
                    points.AddRange(ToPoints(metric, resource));
                }
            }
        }

        store.AddMetrics(instruments, points);
    }

    private IEnumerable<MetricPoint> ToPoints(Metric metric, TelemetryResource resource)
    {
        switch (metric.DataCase)
        {
            case Metric.DataOneofCase.Gauge:
                return metric.Gauge.DataPoints.Select(p => ToPoint(metric.Name, resource, p, isCumulative: false));
            case Metric.DataOneofCase.Sum:
                var cumulative = metric.Sum.AggregationTemporality == AggregationTemporality.Cumulative;
                return metric.Sum.DataPoints.Select(p => ToPoint(metric.Name, resource, p, cumulative));
            case Metric.DataOneofCase.Histogram:
                var histogramCumulative = metric.Histogram.AggregationTemporality == AggregationTemporality.Cumulative;
                return metric.Histogram.DataPoints.Select(p => new MetricPoint(
                    metric.Name, resource, ToTime(p.StartTimeUnixNano), ToTime(p.TimeUnixNano), null,
                    new HistogramValue(p.Count, p.HasSum ? p.Sum : 0, p.HasMin ? p.Min : null, p.HasMax ? p.Max : null, [.. p.ExplicitBounds], [.. p.BucketCounts]),
                    histogramCumulative, ToAttributes(p.Attributes)));
            case Metric.DataOneofCase.ExponentialHistogram:
                var exponentialCumulative = metric.ExponentialHistogram.AggregationTemporality == AggregationTemporality.Cumulative;
                return metric.ExponentialHistogram.DataPoints.Select(p => new MetricPoint(
                    metric.Name, resource, ToTime(p.StartTimeUnixNano), ToTime(p.TimeUnixNano), null,
                    new HistogramValue(p.Count, p.HasSum ? p.Sum : 0, p.HasMin ? p.Min : null, p.HasMax ? p.Max : null, [], []),
                    exponentialCumulative, ToAttributes(p.Attributes)));
            case Metric.DataOneofCase.Summary:
                return metric.Summary.DataPoints.Select(p => new MetricPoint(
                    metric.Name, resource, ToTime(p.StartTimeUnixNano), ToTime(p.TimeUnixNano), null,
                    new HistogramValue(p.Count, p.Sum, null, null, [], []), true, ToAttributes(p.Attributes)));
            default:
                return [];
        }
    }

    private MetricPoint ToPoint(string name, TelemetryResource resource, NumberDataPoint point, bool isCumulative) =>
        new(name, resource, ToTime(point.StartTimeUnixNano), ToTime(point.TimeUnixNano),
            point.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? point.AsInt : point.AsDouble,
            null, isCumulative, ToAttributes(point.Attributes));

    private TelemetryResource ToResource(Resource? resource)
    {
        string? serviceName = null;
        string? instanceId = null;
        foreach (var attribute in resource?.Attributes ?? [])
        {
            if (attribute.Key == "service.name")
            {
                serviceName = ToText(attribute.Value);
            }
            else if (attribute.Key == "service.instance.id")
            {
                instanceId = ToText(attribute.Value);
            }
        }

        return new TelemetryResource(string.IsNullOrEmpty(serviceName) ? "unknown_service" : serviceName, string.IsNullOrEmpty(instanceId) ? null : instanceId);
    }

    /// <summary>
    /// A .NET service that does not set IncludeFormattedMessage sends the template ("Turn {Id} done") as the body and
    /// the values as attributes; put them back together so the list reads like the console.
    /// </summary>
    private static string FormatMessage(string body, Dictionary<string, string> attributes) =>
        attributes.Count == 0 || !body.Contains('{', StringComparison.Ordinal)
            ? body
            : Placeholder().Replace(body, match => attributes.TryGetValue(match.Groups[1].Value, out var value) ? value : match.Value);

    [GeneratedRegex(@"\{([^{}:,]+)(?:[,:][^{}]*)?\}")]
    private static partial Regex Placeholder();

    private Dictionary<string, string> ToAttributes(RepeatedField<KeyValue> attributes)
    {
        var result = new Dictionary<string, string>(Math.Min(attributes.Count, limits.MaxAttributeCount), StringComparer.Ordinal);
        foreach (var attribute in attributes)
        {
            if (result.Count >= limits.MaxAttributeCount)
            {
                break;
            }

            result[attribute.Key] = Truncate(ToText(attribute.Value));
        }

        return result;
    }

    private string Truncate(string text) =>
        text.Length <= limits.MaxAttributeLength ? text : string.Concat(text.AsSpan(0, limits.MaxAttributeLength), "…");

    private static string ToText(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.ArrayValue => "[" + string.Join(", ", value.ArrayValue.Values.Select(ToText)) + "]",
        AnyValue.ValueOneofCase.KvlistValue => "{" + string.Join(", ", value.KvlistValue.Values.Select(kv => kv.Key + ": " + ToText(kv.Value))) + "}",
        AnyValue.ValueOneofCase.BytesValue => Convert.ToBase64String(value.BytesValue.Span),
        _ => "",
    };

    private static string LevelName(int severity, string severityText) => severity switch
    {
        >= 21 => "Critical",
        >= 17 => "Error",
        >= 13 => "Warning",
        >= 9 => "Information",
        >= 5 => "Debug",
        >= 1 => "Trace",
        _ => string.IsNullOrEmpty(severityText) ? "Unspecified" : severityText,
    };

    private static string ToHex(ByteString bytes) => Convert.ToHexStringLower(bytes.Span);

    private static DateTimeOffset ToTime(ulong unixNanoseconds) =>
        DateTimeOffset.UnixEpoch.AddTicks((long)(unixNanoseconds / 100));
}
