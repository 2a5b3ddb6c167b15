using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Chat.Tests.Infrastructure;

/// <summary>A span as received, with the service that sent it.</summary>
public sealed record ReceivedSpan(string Service, Span Span)
{
    public string TraceId => Convert.ToHexStringLower(Span.TraceId.Span);

    public string? Attribute(string key) => Span.Attributes.FirstOrDefault(a => a.Key == key)?.Value is { } value ? OtlpReceiver.Text(value) : null;
}

/// <summary>A log record as received, with the service that sent it.</summary>
public sealed record ReceivedLog(string Service, LogRecord Record);

/// <summary>
/// An OTLP/HTTP protobuf receiver the test owns (<c>POST /v1/traces|logs|metrics</c>, what every service exports to
/// with <c>Otlp:Endpoint</c> + <c>Otlp:Protocol=http/protobuf</c>). It keeps every export's bytes as they arrived, so
/// a search for a secret covers every field of every signal, including fields the parsed view (the dashboard's
/// subset of opentelemetry-proto) does not model; traces and logs are also parsed so a test can prove the capture
/// holds what it should.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Signal, byte[] Body)> _exports = new();
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly ConcurrentQueue<ReceivedLog> _logs = new();

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>Base address for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (the exporter appends /v1/&lt;signal&gt;).</summary>
    public string Endpoint { get; private set; } = "";

    public IReadOnlyCollection<ReceivedSpan> Spans => _spans;

    public IReadOnlyCollection<ReceivedLog> Logs => _logs;

    /// <summary>How many export requests of each signal arrived.</summary>
    public IReadOnlyDictionary<string, int> ExportCounts => _exports.GroupBy(e => e.Signal).ToDictionary(g => g.Key, g => g.Count());

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Explicit HTTP/1.1: the test output holds the services' appsettings.json, whose Kestrel defaults say HTTP/2 only.
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/{signal}", receiver.ReceiveAsync);
        await app.StartAsync();
        receiver.Endpoint = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return receiver;
    }

    private async Task ReceiveAsync(HttpContext context, string signal)
    {
        var body = context.Request.Body;
        if (string.Equals(context.Request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase))
        {
            body = new GZipStream(body, CompressionMode.Decompress);
        }

        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer, context.RequestAborted);
        var bytes = buffer.ToArray();
        _exports.Enqueue((signal, bytes));
        switch (signal)
        {
            case "traces":
                foreach (var resource in ExportTraceServiceRequest.Parser.ParseFrom(bytes).ResourceSpans)
                {
                    var service = ServiceName(resource.Resource?.Attributes);
                    foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans))
                    {
                        _spans.Enqueue(new ReceivedSpan(service, span));
                    }
                }

                break;
            case "logs":
                foreach (var resource in ExportLogsServiceRequest.Parser.ParseFrom(bytes).ResourceLogs)
                {
                    var service = ServiceName(resource.Resource?.Attributes);
                    foreach (var record in resource.ScopeLogs.SelectMany(s => s.LogRecords))
                    {
                        _logs.Enqueue(new ReceivedLog(service, record));
                    }
                }

                break;
        }

        // An empty Export*ServiceResponse is zero bytes: full success.
        context.Response.ContentType = "application/x-protobuf";
        context.Response.ContentLength = 0;
    }

    /// <summary>
    /// Every place a value occurs in what was received: a search of the raw bytes of every export (protobuf keeps
    /// strings as plain UTF-8, so no field can hide one), each hit described by the span or log record holding it
    /// when the parsed view can tell.
    /// </summary>
    public IReadOnlyList<string> FindOccurrences(string value)
    {
        var needle = Encoding.UTF8.GetBytes(value);
        var found = new List<string>();
        foreach (var (signal, body) in _exports)
        {
            if (body.AsSpan().IndexOf(needle) >= 0)
            {
                found.Add($"{signal} export: {Describe(signal, needle)}");
            }
        }

        return found;
    }

    private string Describe(string signal, byte[] needle) => signal switch
    {
        "traces" => string.Join("; ", _spans.Where(s => s.Span.ToByteArray().AsSpan().IndexOf(needle) >= 0)
            .Select(s => $"{s.Service} span {JsonFormatter.Default.Format(s.Span)}").DefaultIfEmpty("(outside any span: resource or scope)")),
        "logs" => string.Join("; ", _logs.Where(l => l.Record.ToByteArray().AsSpan().IndexOf(needle) >= 0)
            .Select(l => $"{l.Service} log {JsonFormatter.Default.Format(l.Record)}").DefaultIfEmpty("(outside any log record: resource or scope)")),
        _ => "(metrics)",
    };

    internal static string Text(AnyValue value) => value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        _ => JsonFormatter.Default.Format(value),
    };

    private static string ServiceName(IEnumerable<KeyValue>? attributes) =>
        attributes?.FirstOrDefault(a => a.Key == "service.name")?.Value.StringValue ?? "";

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
