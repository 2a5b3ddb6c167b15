using System.IO.Compression;
using Chat.Dashboard.Telemetry;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Chat.Dashboard.Otlp;

/// <summary>
/// OTLP/HTTP with binary protobuf bodies: <c>POST /v1/traces|logs|metrics</c>, optionally gzip-compressed.
/// The JSON encoding of OTLP is not accepted (415): every SDK our services use sends protobuf.
/// </summary>
public static class OtlpHttpApi
{
    public const string ProtobufContentType = "application/x-protobuf";

    public static RouteGroupBuilder MapOtlpHttpApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1");
        group.MapPost("/traces", (HttpContext context, TelemetryStore store, OtlpConverter converter) =>
            Receive(context, ExportTraceServiceRequest.Parser, request => converter.AddSpans(store, request.ResourceSpans), new ExportTraceServiceResponse()));
        group.MapPost("/logs", (HttpContext context, TelemetryStore store, OtlpConverter converter) =>
            Receive(context, ExportLogsServiceRequest.Parser, request => converter.AddLogs(store, request.ResourceLogs), new ExportLogsServiceResponse()));
        group.MapPost("/metrics", (HttpContext context, TelemetryStore store, OtlpConverter converter) =>
            Receive(context, ExportMetricsServiceRequest.Parser, request => converter.AddMetrics(store, request.ResourceMetrics), new ExportMetricsServiceResponse()));
        return group;
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> Receive<TRequest>(
        HttpContext context, MessageParser<TRequest> parser, Action<TRequest> accept, IMessage response)
        where TRequest : IMessage<TRequest>
    {
        if (!string.Equals(context.Request.ContentType?.Split(';')[0].Trim(), ProtobufContentType, StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(
                $"OTLP/HTTP here accepts {ProtobufContentType} bodies only.",
                statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        var body = context.Request.Body;
        if (string.Equals(context.Request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase))
        {
            body = new GZipStream(body, CompressionMode.Decompress);
        }

        // Protobuf parsing is synchronous: buffer the body first so Kestrel's no-sync-IO rule holds.
        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer, context.RequestAborted);
        TRequest request;
        try
        {
            request = parser.ParseFrom(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        }
        catch (InvalidProtocolBufferException exception)
        {
            return TypedResults.Problem($"The body is not a valid OTLP message: {exception.Message}", statusCode: StatusCodes.Status400BadRequest);
        }

        accept(request);
        return TypedResults.File(response.ToByteArray(), ProtobufContentType);
    }
}
