namespace Chat.Dashboard.Telemetry;

/// <summary>
/// Bounded in-memory telemetry: spans, logs and metric points each have a cap; when one is full the oldest entry
/// goes first and is counted, so the UI can say how much it no longer shows. One lock: intake is a few thousand
/// items a second at most, and every query wants a consistent view.
/// </summary>
public sealed class TelemetryStore(TelemetryLimits limits)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<SpanData> _spans = new();
    private readonly Dictionary<string, List<SpanData>> _spansByTrace = new(StringComparer.Ordinal);
    private readonly LinkedList<LogEntry> _logs = new();
    private readonly LinkedList<MetricPoint> _points = new();
    private readonly Dictionary<string, InstrumentInfo> _instruments = new(StringComparer.Ordinal);
    private readonly HashSet<TelemetryResource> _resources = [];
    private long _droppedSpans;
    private long _droppedLogs;
    private long _droppedPoints;
    private long _logSequence;

    public TelemetryLimits Limits { get; } = limits;

    public void AddSpans(IEnumerable<SpanData> spans)
    {
        lock (_gate)
        {
            foreach (var span in spans)
            {
                _resources.Add(span.Resource);
                _spans.AddLast(span);
                if (!_spansByTrace.TryGetValue(span.TraceId, out var traceSpans))
                {
                    _spansByTrace[span.TraceId] = traceSpans = [];
                }

                traceSpans.Add(span);
                while (_spans.Count > Limits.MaxSpanCount)
                {
                    var oldest = _spans.First!.Value;
                    _spans.RemoveFirst();
                    _droppedSpans++;
                    var oldestTrace = _spansByTrace[oldest.TraceId];
                    oldestTrace.Remove(oldest);
                    if (oldestTrace.Count == 0)
                    {
                        _spansByTrace.Remove(oldest.TraceId);
                    }
                }
            }
        }
    }

    /// <summary>Adds log records; the store numbers them in arrival order.</summary>
    public void AddLogs(IEnumerable<Func<long, LogEntry>> entries)
    {
        lock (_gate)
        {
            foreach (var create in entries)
            {
                var entry = create(++_logSequence);
                _resources.Add(entry.Resource);
                _logs.AddLast(entry);
                while (_logs.Count > Limits.MaxLogCount)
                {
                    _logs.RemoveFirst();
                    _droppedLogs++;
                }
            }
        }
    }

    public void AddMetrics(IEnumerable<InstrumentInfo> instruments, IEnumerable<MetricPoint> points)
    {
        lock (_gate)
        {
            foreach (var instrument in instruments)
            {
                _instruments[instrument.Name] = instrument;
            }

            foreach (var point in points)
            {
                _resources.Add(point.Resource);
                _points.AddLast(point);
                while (_points.Count > Limits.MaxMetricPointCount)
                {
                    _points.RemoveFirst();
                    _droppedPoints++;
                }
            }
        }
    }

    public IReadOnlyList<TelemetryResource> GetResources()
    {
        lock (_gate)
        {
            return [.. _resources.OrderBy(r => r.ServiceName, StringComparer.Ordinal).ThenBy(r => r.InstanceId, StringComparer.Ordinal)];
        }
    }

    public TelemetryCounts GetCounts()
    {
        lock (_gate)
        {
            return new TelemetryCounts(
                _spans.Count, _spansByTrace.Count, _logs.Count, _points.Count,
                _droppedSpans, _droppedLogs, _droppedPoints,
                Limits.MaxSpanCount, Limits.MaxLogCount, Limits.MaxMetricPointCount);
        }
    }

    /// <summary>Spans, newest first.</summary>
    public (int Total, IReadOnlyList<SpanData> Items) GetSpans(string? resource, string? traceId, int limit)
    {
        lock (_gate)
        {
            var matching = _spans.Reverse()
                .Where(s => s.Resource.Matches(resource) && (traceId is null || s.TraceId == traceId))
                .ToList();
            return (matching.Count, matching.Take(limit).ToList());
        }
    }

    /// <summary>Logs, newest first.</summary>
    public (int Total, IReadOnlyList<LogEntry> Items) GetLogs(LogQuery query)
    {
        lock (_gate)
        {
            var matching = _logs.Reverse().Where(query.Matches).ToList();
            return (matching.Count, matching.Take(query.Limit).ToList());
        }
    }

    /// <summary>Trace summaries, newest first.</summary>
    public (int Total, IReadOnlyList<TraceSummary> Items) GetTraces(TraceQuery query)
    {
        lock (_gate)
        {
            var matching = _spansByTrace.Values
                .Select(Summarize)
                .Where(query.Matches)
                .OrderByDescending(t => t.StartTime)
                .ToList();
            return (matching.Count, matching.Take(query.Limit).ToList());
        }
    }

    public TraceDetail? GetTrace(string traceId)
    {
        lock (_gate)
        {
            if (!_spansByTrace.TryGetValue(traceId, out var spans))
            {
                return null;
            }

            return new TraceDetail(Summarize(spans), [.. spans.OrderBy(s => s.StartTime)]);
        }
    }

    public IReadOnlyList<InstrumentSummary> GetInstruments(string? resource)
    {
        lock (_gate)
        {
            return [.. _points
                .Where(p => p.Resource.Matches(resource))
                .GroupBy(p => p.Instrument, StringComparer.Ordinal)
                .Select(g => new InstrumentSummary(
                    _instruments.GetValueOrDefault(g.Key) ?? new InstrumentInfo(g.Key, "", "", "Unknown", ""),
                    g.Count(),
                    [.. g.Select(p => p.Resource.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
                    g.Last().Timestamp))
                .OrderBy(i => i.Instrument.Name, StringComparer.Ordinal)];
        }
    }

    /// <summary>Points of one instrument, oldest first (the order a chart draws them), at most the newest <paramref name="limit"/>.</summary>
    public (int Total, InstrumentInfo? Instrument, IReadOnlyList<MetricPoint> Items) GetMetricPoints(string instrument, string? resource, int limit)
    {
        lock (_gate)
        {
            var matching = _points.Where(p => p.Instrument == instrument && p.Resource.Matches(resource)).ToList();
            return (matching.Count, _instruments.GetValueOrDefault(instrument), matching.Skip(Math.Max(0, matching.Count - limit)).ToList());
        }
    }

    private static TraceSummary Summarize(List<SpanData> spans)
    {
        var ids = spans.Select(s => s.SpanId).ToHashSet(StringComparer.Ordinal);
        // The root is the span without a parent; while the root has not arrived (or was dropped) the earliest orphan stands in.
        var root = spans.Where(s => s.ParentSpanId is null).MinBy(s => s.StartTime)
            ?? spans.Where(s => !ids.Contains(s.ParentSpanId!)).MinBy(s => s.StartTime)
            ?? spans.MinBy(s => s.StartTime)!;
        var start = spans.Min(s => s.StartTime);
        var end = spans.Max(s => s.EndTime);
        return new TraceSummary(
            root.TraceId,
            root.Name,
            root.Resource.Name,
            start,
            (end - start).TotalMilliseconds,
            spans.Count,
            spans.Count(s => s.IsError),
            [.. spans.Select(s => s.Resource.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            spans.Any(s => s.Attributes.Keys.Any(k => k.StartsWith("gen_ai.", StringComparison.Ordinal))));
    }
}

public sealed record InstrumentSummary(InstrumentInfo Instrument, int PointCount, IReadOnlyList<string> Resources, DateTimeOffset LastTimestamp);

public sealed record LogQuery(string? Resource, int? MinSeverity, string? Search, string? TraceId, int Limit)
{
    public bool Matches(LogEntry entry) =>
        entry.Resource.Matches(Resource)
        && (MinSeverity is null || entry.SeverityNumber >= MinSeverity)
        && (TraceId is null || string.Equals(entry.TraceId, TraceId, StringComparison.OrdinalIgnoreCase))
        && (string.IsNullOrEmpty(Search)
            || entry.Message.Contains(Search, StringComparison.OrdinalIgnoreCase)
            || entry.Category.Contains(Search, StringComparison.OrdinalIgnoreCase)
            || entry.Attributes.Values.Any(v => v.Contains(Search, StringComparison.OrdinalIgnoreCase)));
}

public sealed record TraceQuery(string? Resource, double? MinDurationMs, bool ErrorsOnly, string? Search, int Limit)
{
    public bool Matches(TraceSummary trace) =>
        (string.IsNullOrEmpty(Resource) || trace.Resources.Any(r => string.Equals(r, Resource, StringComparison.OrdinalIgnoreCase))
            || trace.Resources.Any(r => r.StartsWith(Resource + "-", StringComparison.OrdinalIgnoreCase)))
        && (MinDurationMs is null || trace.DurationMs >= MinDurationMs)
        && (!ErrorsOnly || trace.HasError)
        && (string.IsNullOrEmpty(Search) || trace.RootName.Contains(Search, StringComparison.OrdinalIgnoreCase)
            || trace.TraceId.StartsWith(Search, StringComparison.OrdinalIgnoreCase));
}
