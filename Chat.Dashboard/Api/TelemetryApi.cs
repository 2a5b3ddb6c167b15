using Chat.Dashboard.Hosting;
using Chat.Dashboard.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Chat.Dashboard.Api;

/// <summary>
/// Telemetry as JSON, shaped after Aspire's <c>GET /api/telemetry/{resources,spans,logs,traces,traces/{id}}</c>:
/// lists come as <c>{ totalCount, returnedCount, items }</c>, newest first (metric points oldest first, for charts).
/// </summary>
public static class TelemetryApi
{
    private const int DefaultLimit = 200;
    private const int MaxLimit = 10_000;

    public static RouteGroupBuilder MapTelemetryApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/telemetry");
        group.MapGet("/resources", (TelemetryStore store) => TypedResults.Ok(store.GetResources()));
        group.MapGet("/stats", (TelemetryStore store) => TypedResults.Ok(store.GetCounts()));
        group.MapGet("/spans", (TelemetryStore store, string? resource, string? traceId, int? limit) =>
        {
            var (total, items) = store.GetSpans(resource, traceId?.ToLowerInvariant(), Limit(limit));
            return TypedResults.Ok(new TelemetryPage<SpanData>(total, items.Count, items));
        });
        group.MapGet("/logs", (TelemetryStore store, string? resource, string? level, string? search, string? traceId, int? limit) =>
        {
            var (total, items) = store.GetLogs(new LogQuery(resource, MinSeverity(level), search, traceId, Limit(limit)));
            return TypedResults.Ok(new TelemetryPage<LogEntry>(total, items.Count, items));
        });
        group.MapGet("/traces", (TelemetryStore store, string? resource, double? minDurationMs, bool? errorsOnly, string? search, int? limit) =>
        {
            var (total, items) = store.GetTraces(new TraceQuery(resource, minDurationMs, errorsOnly ?? false, search, Limit(limit)));
            return TypedResults.Ok(new TelemetryPage<TraceSummary>(total, items.Count, items));
        });
        group.MapGet("/traces/{traceId}", Results<Ok<TraceDetail>, NotFound> (TelemetryStore store, string traceId) =>
            store.GetTrace(traceId.ToLowerInvariant()) is { } trace ? TypedResults.Ok(trace) : TypedResults.NotFound());
        group.MapGet("/metrics", (TelemetryStore store, string? resource) => TypedResults.Ok(store.GetInstruments(resource)));
        group.MapGet("/metrics/{instrument}", Results<Ok<MetricSeries>, NotFound> (TelemetryStore store, string instrument, string? resource, int? limit) =>
        {
            var (total, info, items) = store.GetMetricPoints(instrument, resource, Limit(limit));
            return info is null && total == 0
                ? TypedResults.NotFound()
                : TypedResults.Ok(new MetricSeries(info, total, items.Count, items));
        });
        endpoints.MapGet("/api/info", (DashboardOptions options) => TypedResults.Ok(new DashboardInfo(
            string.IsNullOrEmpty(options.ExternalOtlpEndpoint) ? null : options.ExternalOtlpEndpoint,
            options.TelemetryLimits)));
        return group;
    }

    private static int Limit(int? limit) => Math.Clamp(limit ?? DefaultLimit, 1, MaxLimit);

    /// <summary>Accepts a .NET level name (Information, Warning…) or an OTLP severity number.</summary>
    private static int? MinSeverity(string? level) => level?.ToLowerInvariant() switch
    {
        null or "" or "all" => null,
        "trace" => 1,
        "debug" => 5,
        "information" or "info" => 9,
        "warning" or "warn" => 13,
        "error" => 17,
        "critical" or "fatal" => 21,
        var number when int.TryParse(number, out var severity) => severity,
        _ => null,
    };
}

public sealed record TelemetryPage<T>(int TotalCount, int ReturnedCount, IReadOnlyList<T> Items);

public sealed record MetricSeries(InstrumentInfo? Instrument, int TotalCount, int ReturnedCount, IReadOnlyList<MetricPoint> Points);

public sealed record DashboardInfo(string? ExternalOtlpEndpoint, TelemetryLimits Limits);
