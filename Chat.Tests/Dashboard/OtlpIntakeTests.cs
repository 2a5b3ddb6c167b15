using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Chat.Tests.Dashboard;

/// <summary>The OpenTelemetry .NET SDK's own OTLP exporters, over gRPC and HTTP/protobuf, into the dashboard's receivers.</summary>
public sealed partial class OtlpIntakeTests
{
    public static TheoryData<OtlpExportProtocol> Protocols => [OtlpExportProtocol.Grpc, OtlpExportProtocol.HttpProtobuf];

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task Spans_FromOtlpExporter_AppearWithParentLinksAttributesAndServiceName(OtlpExportProtocol protocol)
    {
        await using var host = await DashboardTestHost.StartAsync();
        var sourceName = $"Chat.Tests.Dashboard.Spans.{protocol}";
        using var source = new ActivitySource(sourceName);
        using (var tracing = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("sse", serviceInstanceId: "sse-1"))
            .AddSource(sourceName)
            .AddOtlpExporter(exporter => Configure(exporter, host, protocol, "/v1/traces"))
            .Build())
        {
            using (var turn = source.StartActivity("POST /sse/chat", ActivityKind.Server))
            {
                turn!.SetTag("http.request.method", "POST");
                turn.SetTag("http.response.status_code", 200);
                using var call = source.StartActivity("chat.llm.v1.LlmService/StreamTurn", ActivityKind.Client);
                call!.SetTag("gen_ai.operation.name", "chat");
                call.SetTag("gen_ai.request.model", "offline-echo");
                call.SetTag("gen_ai.usage.input_tokens", 12);
                call.SetTag("gen_ai.usage.output_tokens", 34);
                call.AddEvent(new ActivityEvent("gen_ai.first_token", DateTimeOffset.UtcNow));
                call.SetStatus(ActivityStatusCode.Error, "model overloaded");
            }

            Assert.True(tracing.ForceFlush(5000));
        }

        var spans = await host.GetJsonAsync("/api/telemetry/spans");
        Assert.Equal(2, spans.GetProperty("totalCount").GetInt32());
        var items = spans.GetProperty("items").EnumerateArray().ToList();
        var server = items.Single(s => s.GetProperty("name").GetString() == "POST /sse/chat");
        var client = items.Single(s => s.GetProperty("name").GetString() == "chat.llm.v1.LlmService/StreamTurn");

        Assert.False(server.TryGetProperty("parentSpanId", out _));
        Assert.Equal(server.GetProperty("spanId").GetString(), client.GetProperty("parentSpanId").GetString());
        Assert.Equal(server.GetProperty("traceId").GetString(), client.GetProperty("traceId").GetString());
        Assert.Matches("^[0-9a-f]{32}$", server.GetProperty("traceId").GetString());
        Assert.Equal("Server", server.GetProperty("kind").GetString());
        Assert.Equal("Client", client.GetProperty("kind").GetString());
        Assert.Equal("200", server.GetProperty("attributes").GetProperty("http.response.status_code").GetString());
        Assert.Equal("POST", server.GetProperty("attributes").GetProperty("http.request.method").GetString());
        Assert.Equal("sse", server.GetProperty("resource").GetProperty("serviceName").GetString());
        Assert.Equal("sse-1", server.GetProperty("resource").GetProperty("instanceId").GetString());
        Assert.Equal("Error", client.GetProperty("status").GetString());
        Assert.Equal("model overloaded", client.GetProperty("statusMessage").GetString());
        Assert.Equal("gen_ai.first_token", client.GetProperty("events")[0].GetProperty("name").GetString());
        var genAi = client.GetProperty("genAi");
        Assert.Equal("offline-echo", genAi.GetProperty("requestModel").GetString());
        Assert.Equal(12, genAi.GetProperty("inputTokens").GetInt64());
        Assert.Equal(34, genAi.GetProperty("outputTokens").GetInt64());
        Assert.True(genAi.GetProperty("timeToFirstTokenMs").GetDouble() >= 0);

        var traceId = server.GetProperty("traceId").GetString();
        var traces = await host.GetJsonAsync("/api/telemetry/traces");
        var trace = Assert.Single(traces.GetProperty("items").EnumerateArray());
        Assert.Equal(traceId, trace.GetProperty("traceId").GetString());
        Assert.Equal("POST /sse/chat", trace.GetProperty("rootName").GetString());
        Assert.Equal(2, trace.GetProperty("spanCount").GetInt32());
        Assert.True(trace.GetProperty("hasError").GetBoolean());
        Assert.Equal(["sse-1"], trace.GetProperty("resources").EnumerateArray().Select(r => r.GetString()));

        var detail = await host.GetJsonAsync($"/api/telemetry/traces/{traceId}");
        Assert.Equal(2, detail.GetProperty("spans").GetArrayLength());
        Assert.Equal("POST /sse/chat", detail.GetProperty("spans")[0].GetProperty("name").GetString());

        var resources = await host.GetJsonAsync("/api/telemetry/resources");
        Assert.Equal("sse-1", Assert.Single(resources.EnumerateArray()).GetProperty("name").GetString());
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task Logs_FromOtlpExporter_AppearWithLevelMessageAndTraceId(OtlpExportProtocol protocol)
    {
        await using var host = await DashboardTestHost.StartAsync();
        var sourceName = $"Chat.Tests.Dashboard.Logs.{protocol}";
        using var source = new ActivitySource(sourceName);
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == sourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);

        string traceId;
        using (var loggers = LoggerFactory.Create(logging => logging.AddOpenTelemetry(otel =>
        {
            otel.SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("llm", serviceInstanceId: "llm-0"));
            otel.IncludeFormattedMessage = true;
            otel.AddOtlpExporter(exporter => Configure(exporter, host, protocol, "/v1/logs"));
        })))
        {
            var logger = loggers.CreateLogger("Chat.Llm.Sessions");
            using (var activity = source.StartActivity("turn"))
            {
                traceId = activity!.TraceId.ToHexString();
                LogOverBudget(logger, "s-42");
            }

            LogRedisUnavailable(logger);
            LogBelowDefaultLevel(logger);
        }

        var logs = await host.GetJsonAsync("/api/telemetry/logs");
        Assert.Equal(2, logs.GetProperty("totalCount").GetInt32());
        var items = logs.GetProperty("items").EnumerateArray().ToList();
        var warning = items.Single(l => l.GetProperty("level").GetString() == "Warning");
        Assert.Equal("Session s-42 is over its history budget", warning.GetProperty("message").GetString());
        Assert.Equal(traceId, warning.GetProperty("traceId").GetString());
        Assert.Equal("Chat.Llm.Sessions", warning.GetProperty("category").GetString());
        Assert.Equal("s-42", warning.GetProperty("attributes").GetProperty("SessionId").GetString());
        Assert.Equal("llm-0", warning.GetProperty("resource").GetProperty("name").GetString());
        var error = items.Single(l => l.GetProperty("level").GetString() == "Error");
        Assert.Equal("Redis unavailable", error.GetProperty("message").GetString());
        Assert.False(error.TryGetProperty("traceId", out _));

        var errorsOnly = await host.GetJsonAsync("/api/telemetry/logs?level=Error");
        Assert.Equal("Redis unavailable", Assert.Single(errorsOnly.GetProperty("items").EnumerateArray()).GetProperty("message").GetString());
        var byText = await host.GetJsonAsync("/api/telemetry/logs?search=budget&resource=llm");
        Assert.Equal(1, byText.GetProperty("totalCount").GetInt32());
        var byTrace = await host.GetJsonAsync($"/api/telemetry/logs?traceId={traceId}");
        Assert.Equal(1, byTrace.GetProperty("totalCount").GetInt32());
        var otherResource = await host.GetJsonAsync("/api/telemetry/logs?resource=sse");
        Assert.Equal(0, otherResource.GetProperty("totalCount").GetInt32());
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task Metrics_FromOtlpExporter_AppearAsInstrumentsAndPoints(OtlpExportProtocol protocol)
    {
        await using var host = await DashboardTestHost.StartAsync();
        var meterName = $"Chat.Tests.Dashboard.Metrics.{protocol}";
        using var meter = new Meter(meterName);
        var turns = meter.CreateCounter<long>("chat.turns", unit: "{turn}", description: "Chat turns");
        var firstToken = meter.CreateHistogram<double>("chat.stream.time_to_first_token", unit: "s");
        var active = meter.CreateUpDownCounter<long>("chat.streams.active", unit: "{stream}");

        using (var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("websocket", serviceInstanceId: "websocket-0"))
            .AddMeter(meterName)
            .AddOtlpExporter((exporter, reader) => Configure(exporter, host, protocol, "/v1/metrics"))
            .Build())
        {
            turns.Add(3, new KeyValuePair<string, object?>("transport", "websocket"));
            firstToken.Record(0.2);
            firstToken.Record(0.4);
            active.Add(2, new KeyValuePair<string, object?>("transport", "websocket"));
            Assert.True(metrics.ForceFlush(5000));
        }

        var instruments = (await host.GetJsonAsync("/api/telemetry/metrics")).EnumerateArray()
            .ToDictionary(i => i.GetProperty("instrument").GetProperty("name").GetString()!);
        Assert.Equal("Counter", instruments["chat.turns"].GetProperty("instrument").GetProperty("type").GetString());
        Assert.Equal("{turn}", instruments["chat.turns"].GetProperty("instrument").GetProperty("unit").GetString());
        Assert.Equal("Chat turns", instruments["chat.turns"].GetProperty("instrument").GetProperty("description").GetString());
        Assert.Equal("Histogram", instruments["chat.stream.time_to_first_token"].GetProperty("instrument").GetProperty("type").GetString());
        Assert.Equal("UpDownCounter", instruments["chat.streams.active"].GetProperty("instrument").GetProperty("type").GetString());
        Assert.Equal(["websocket-0"], instruments["chat.turns"].GetProperty("resources").EnumerateArray().Select(r => r.GetString()));

        var turnPoint = (await host.GetJsonAsync("/api/telemetry/metrics/chat.turns")).GetProperty("points")[0];
        Assert.Equal(3, turnPoint.GetProperty("value").GetDouble());
        Assert.Equal("websocket", turnPoint.GetProperty("attributes").GetProperty("transport").GetString());
        Assert.True(turnPoint.GetProperty("isCumulative").GetBoolean());

        var histogram = (await host.GetJsonAsync("/api/telemetry/metrics/chat.stream.time_to_first_token")).GetProperty("points")[0].GetProperty("histogram");
        Assert.Equal(2UL, histogram.GetProperty("count").GetUInt64());
        Assert.Equal(0.6, histogram.GetProperty("sum").GetDouble(), 6);
        Assert.Equal(0.2, histogram.GetProperty("min").GetDouble(), 6);
        Assert.Equal(0.4, histogram.GetProperty("max").GetDouble(), 6);

        var activePoint = (await host.GetJsonAsync("/api/telemetry/metrics/chat.streams.active?resource=websocket")).GetProperty("points")[0];
        Assert.Equal(2, activePoint.GetProperty("value").GetDouble());
        var missing = await host.Http.GetAsync("/api/telemetry/metrics/no.such.instrument").DefaultTimeout();
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Caps_WhenExceeded_DropOldestAndCountDrops()
    {
        await using var host = await DashboardTestHost.StartAsync(options =>
        {
            options.TelemetryLimits.MaxSpanCount = 4;
            options.TelemetryLimits.MaxLogCount = 3;
            options.TelemetryLimits.MaxMetricPointCount = 2;
        });
        const string sourceName = "Chat.Tests.Dashboard.Caps";
        using var source = new ActivitySource(sourceName);
        using var meter = new Meter(sourceName);
        using (var tracing = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("rest"))
            .AddSource(sourceName)
            .AddOtlpExporter(exporter => Configure(exporter, host, OtlpExportProtocol.Grpc, "/v1/traces"))
            .Build())
        using (var loggers = LoggerFactory.Create(logging => logging.AddOpenTelemetry(otel =>
            otel.AddOtlpExporter(exporter => Configure(exporter, host, OtlpExportProtocol.Grpc, "/v1/logs")))))
        using (var metrics = Sdk.CreateMeterProviderBuilder()
            .AddMeter(sourceName)
            .AddOtlpExporter((exporter, reader) => Configure(exporter, host, OtlpExportProtocol.Grpc, "/v1/metrics"))
            .Build())
        {
            for (var i = 0; i < 10; i++)
            {
                source.StartActivity($"span-{i}")!.Dispose();
                LogNumbered(loggers.CreateLogger("caps"), i);
            }

            for (var i = 0; i < 5; i++)
            {
                meter.CreateCounter<long>($"chat.caps.counter{i}").Add(1);
            }

            Assert.True(tracing.ForceFlush(5000));
            Assert.True(metrics.ForceFlush(5000));
        }

        var stats = await host.GetJsonAsync("/api/telemetry/stats");
        Assert.Equal(4, stats.GetProperty("spans").GetInt32());
        Assert.Equal(6, stats.GetProperty("droppedSpans").GetInt64());
        Assert.Equal(3, stats.GetProperty("logs").GetInt32());
        Assert.Equal(7, stats.GetProperty("droppedLogs").GetInt64());
        Assert.Equal(2, stats.GetProperty("metricPoints").GetInt32());
        // Five points per export; disposing the provider exports (cumulative) once more, so 10 may have arrived.
        var droppedPoints = stats.GetProperty("droppedMetricPoints").GetInt64();
        Assert.True(droppedPoints >= 3);
        Assert.Equal(0, (droppedPoints + 2) % 5);

        var spans = await host.GetJsonAsync("/api/telemetry/spans");
        Assert.Equal(["span-9", "span-8", "span-7", "span-6"], spans.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        var logs = await host.GetJsonAsync("/api/telemetry/logs");
        Assert.Equal(["log 9", "log 8", "log 7"], logs.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task OtlpHttp_WithJsonBody_IsUnsupportedMediaType()
    {
        await using var host = await DashboardTestHost.StartAsync();
        using var client = new HttpClient { BaseAddress = host.App.OtlpHttpEndpoint };
        using var response = await client.PostAsync("/v1/traces", new StringContent("{}", System.Text.Encoding.UTF8, "application/json")).DefaultTimeout();
        Assert.Equal(System.Net.HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    private static void Configure(OtlpExporterOptions exporter, DashboardTestHost host, OtlpExportProtocol protocol, string httpPath)
    {
        exporter.Protocol = protocol;
        // A programmatic endpoint is used as given: the HTTP exporter needs the full signal path.
        exporter.Endpoint = protocol == OtlpExportProtocol.Grpc ? host.App.OtlpGrpcEndpoint : new Uri(host.App.OtlpHttpEndpoint, httpPath);
        exporter.TimeoutMilliseconds = 5000;
    }

    [LoggerMessage(LogLevel.Warning, "Session {SessionId} is over its history budget")]
    private static partial void LogOverBudget(ILogger logger, string sessionId);

    [LoggerMessage(LogLevel.Error, "Redis unavailable")]
    private static partial void LogRedisUnavailable(ILogger logger);

    [LoggerMessage(LogLevel.Debug, "Not exported: below the default Information level")]
    private static partial void LogBelowDefaultLevel(ILogger logger);

    [LoggerMessage(LogLevel.Information, "log {Number}")]
    private static partial void LogNumbered(ILogger logger, int number);
}
