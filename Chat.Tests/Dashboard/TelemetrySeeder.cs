using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Chat.Tests.Dashboard;

/// <summary>
/// Sends one chat turn's worth of telemetry through real OTLP/gRPC exporters, as four services would: a trace
/// across gateway → sse → llm (with a gen_ai span and Redis calls), its logs, and the chat metrics.
/// </summary>
public static partial class TelemetrySeeder
{
    public static string SendChatTurn(Uri otlpGrpcEndpoint, string suffix)
    {
        var services = new[] { ("gateway", "gateway-0"), ("sse", "sse-1"), ("llm", "llm-0") };
        var sources = services.ToDictionary(s => s.Item1, s => new ActivitySource($"seed.{suffix}.{s.Item1}"));
        var providers = services.Select(s => Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(s.Item1, serviceInstanceId: s.Item2))
            .AddSource(sources[s.Item1].Name)
            .AddOtlpExporter(e => Configure(e, otlpGrpcEndpoint))
            .Build()).ToList();

        using var loggers = LoggerFactory.Create(logging => logging.AddOpenTelemetry(otel =>
        {
            otel.SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("llm", serviceInstanceId: "llm-0"));
            otel.IncludeFormattedMessage = true;
            otel.AddOtlpExporter(e => Configure(e, otlpGrpcEndpoint));
        }));
        var logger = loggers.CreateLogger("Chat.Llm.Service.Turns");

        var t0 = DateTimeOffset.UtcNow.AddSeconds(-2);
        Activity Span(string service, string name, ActivityKind kind, Activity? parent, double startMs, double endMs, params (string, object)[] tags)
        {
            var activity = sources[service].StartActivity(name, kind, parent?.Context ?? default,
                tags.Select(t => new KeyValuePair<string, object?>(t.Item1, t.Item2)), startTime: t0.AddMilliseconds(startMs))!;
            activity.SetEndTime(t0.AddMilliseconds(endMs).UtcDateTime);
            return activity;
        }

        var gateway = Span("gateway", "POST /sse/chat", ActivityKind.Server, null, 0, 432, ("http.request.method", "POST"), ("url.path", "/sse/chat"), ("http.response.status_code", 200));
        var proxy = Span("gateway", "POST", ActivityKind.Client, gateway, 3, 430, ("server.address", "127.0.0.1"), ("server.port", 5201));
        var sse = Span("sse", "POST /sse/chat", ActivityKind.Server, proxy, 6, 428, ("http.route", "/sse/chat"), ("http.response.status_code", 200));
        var call = Span("sse", "chat.llm.v1.LlmService/StreamTurn", ActivityKind.Client, sse, 9, 425, ("rpc.system", "grpc"), ("rpc.service", "chat.llm.v1.LlmService"));
        var turn = Span("llm", "chat.llm.v1.LlmService/StreamTurn", ActivityKind.Server, call, 13, 421, ("rpc.system", "grpc"), ("rpc.grpc.status_code", 0));
        LogTurnStarted(logger, "8f14e45f", 3);
        Span("llm", "HGETALL", ActivityKind.Client, turn, 15, 19, ("db.system.name", "redis"), ("db.operation.name", "HGETALL")).Stop();
        var model = Span("llm", "chat offline-echo", ActivityKind.Client, turn, 21, 405,
            ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "offline"), ("gen_ai.request.model", "offline-echo"),
            ("gen_ai.response.model", "offline-echo"), ("gen_ai.usage.input_tokens", 42), ("gen_ai.usage.output_tokens", 17));
        model.AddEvent(new ActivityEvent("gen_ai.first_token", t0.AddMilliseconds(221)));
        model.Stop();
        Activity.Current = turn;
        LogTurnCompleted(logger, "8f14e45f", 17, 208);
        Span("llm", "RPUSH", ActivityKind.Client, turn, 407, 411, ("db.system.name", "redis"), ("db.operation.name", "RPUSH")).Stop();
        turn.Stop();
        call.Stop();
        sse.Stop();
        proxy.Stop();
        gateway.Stop();
        var traceId = gateway.TraceId.ToHexString();
        Activity.Current = null;
        LogSlowRedis(logger, 120);
        LogRedisFailed(logger, "127.0.0.1:6390");
        loggers.Dispose();

        using var meter = new Meter($"seed.{suffix}.metrics");
        var turns = meter.CreateCounter<long>("chat.turns", "{turn}", "Chat turns completed");
        var ttft = meter.CreateHistogram<double>("chat.stream.time_to_first_token", "s", "Time from request to the first streamed token");
        var tokens = meter.CreateCounter<long>("chat.stream.tokens", "{token}", "Tokens streamed to clients");
        var active = meter.CreateUpDownCounter<long>("chat.stream.active", "{stream}", "Streams open now, per transport");
        using (var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("sse", serviceInstanceId: "sse-1"))
            .AddMeter(meter.Name)
            .AddOtlpExporter((e, reader) => Configure(e, otlpGrpcEndpoint))
            .Build())
        {
            for (var round = 0; round < 6; round++)
            {
                foreach (var transport in new[] { "sse", "websocket", "grpc" })
                {
                    var tag = new KeyValuePair<string, object?>("transport", transport);
                    turns.Add(1 + round % 3, tag);
                    tokens.Add(20 * (round + 1) + transport.Length, tag);
                    ttft.Record(0.18 + 0.03 * ((round + transport.Length) % 4), tag);
                    active.Add(round % 2 == 0 ? 2 : -1, tag);
                }

                metrics.ForceFlush(5000);
            }
        }

        foreach (var provider in providers)
        {
            provider.Dispose();
        }

        foreach (var source in sources.Values)
        {
            source.Dispose();
        }

        return traceId;
    }

    private static void Configure(OtlpExporterOptions exporter, Uri endpoint)
    {
        exporter.Protocol = OtlpExportProtocol.Grpc;
        exporter.Endpoint = endpoint;
        exporter.TimeoutMilliseconds = 5000;
    }

    [LoggerMessage(LogLevel.Information, "Turn started on session {SessionId} with {HistoryMessages} messages of history")]
    private static partial void LogTurnStarted(ILogger logger, string sessionId, int historyMessages);

    [LoggerMessage(LogLevel.Information, "Turn completed on session {SessionId}: {Tokens} tokens, first after {FirstTokenMs} ms")]
    private static partial void LogTurnCompleted(ILogger logger, string sessionId, int tokens, int firstTokenMs);

    [LoggerMessage(LogLevel.Warning, "Redis round trip took {ElapsedMs} ms")]
    private static partial void LogSlowRedis(ILogger logger, int elapsedMs);

    [LoggerMessage(LogLevel.Error, "Redis at {Endpoint} refused the connection")]
    private static partial void LogRedisFailed(ILogger logger, string endpoint);
}
