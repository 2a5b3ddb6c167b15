using Chat.Dashboard.Telemetry;
using Grpc.Core;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Chat.Dashboard.Otlp;

// OTLP/gRPC: the three collector services, as every OpenTelemetry SDK's gRPC exporter calls them.

public sealed class OtlpTraceService(TelemetryStore store, OtlpConverter converter) : TraceService.TraceServiceBase
{
    private static readonly ExportTraceServiceResponse Accepted = new();

    public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
    {
        converter.AddSpans(store, request.ResourceSpans);
        return Task.FromResult(Accepted);
    }
}

public sealed class OtlpLogsService(TelemetryStore store, OtlpConverter converter) : LogsService.LogsServiceBase
{
    private static readonly ExportLogsServiceResponse Accepted = new();

    public override Task<ExportLogsServiceResponse> Export(ExportLogsServiceRequest request, ServerCallContext context)
    {
        converter.AddLogs(store, request.ResourceLogs);
        return Task.FromResult(Accepted);
    }
}

public sealed class OtlpMetricsService(TelemetryStore store, OtlpConverter converter) : MetricsService.MetricsServiceBase
{
    private static readonly ExportMetricsServiceResponse Accepted = new();

    public override Task<ExportMetricsServiceResponse> Export(ExportMetricsServiceRequest request, ServerCallContext context)
    {
        converter.AddMetrics(store, request.ResourceMetrics);
        return Task.FromResult(Accepted);
    }
}
