using System.Globalization;
using System.Net;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using OpenTelemetry.Proto.Trace.V1;
using Xunit.Abstractions;
using SpanStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace Chat.Tests.Reliability;

/// <summary>
/// What a user of the Aspire dashboard sees, measured on the whole graph exporting to a receiver the test owns
/// (docs/conventions.md, "Telemetry"): a chat turn through the gateway is one trace from the gateway's root span
/// (named for what happened) through the transport and llm down to the model call and the Redis commands, with no
/// error anywhere; health probes, the gateway's active health checks, the transports' polls of llm and gRPC health
/// checks leave no span at all; and an idle graph records next to nothing.
/// </summary>
public sealed class TraceShapeTests(TraceShapeTests.GraphFixture fixture, ITestOutputHelper output) : IClassFixture<TraceShapeTests.GraphFixture>
{
    /// <summary>The model waits this long before its first token, so time to first chunk has a value to check.</summary>
    private const int TimeToFirstTokenMs = 50;

    private static readonly string[] Transports = ["rest", "streaming", "sse", "websocket", "grpc"];

    private readonly DistributedApplication _app = fixture.App;
    private readonly OtlpReceiver _otlp = fixture.Otlp;

    [Theory]
    [InlineData("rest", "POST /rest/chat")]
    [InlineData("streaming", "POST /streaming/chat/stream")]
    [InlineData("sse", "POST /sse/chat/stream")]
    [InlineData("websocket", "GET /websocket/ws")]
    [InlineData("grpc", "POST /chat.ChatService/SendMessage")]
    public async Task ChatTurn_ThroughTheGateway_IsOneTraceNamedForWhatHappened_AcrossEveryService_WithNoError(string transport, string rootName)
    {
        var trace = await TurnWithTraceAsync(transport, $"trace shape over {transport}");
        var roots = trace.Where(s => s.Span.ParentSpanId.IsEmpty).ToList();
        var root = Assert.Single(roots);
        Assert.Equal("gateway", root.Service);
        Assert.Equal(rootName, root.Span.Name);
        Assert.Equal(Span.Types.SpanKind.Server, root.Span.Kind);

        // One unbroken tree: every span's parent was exported too (no orphan under a span nobody recorded).
        var ids = trace.Select(s => s.Span.SpanId).ToHashSet();
        Assert.All(trace.Where(s => !s.Span.ParentSpanId.IsEmpty), s => Assert.True(ids.Contains(s.Span.ParentSpanId), $"orphan: {Describe(s)}\n{Describe(trace)}"));

        // gateway → transport → llm → Redis, and the model call.
        Assert.Contains(trace, s => s.Service == transport && s.Span.Kind == Span.Types.SpanKind.Server);
        Assert.Contains(trace, s => s.Service == "llm" && s.Span.Kind == Span.Types.SpanKind.Server);
        Assert.Contains(trace, s => s.Service == "llm" && s.Span.Kind == Span.Types.SpanKind.Client && IsRedis(s));

        // A stream the client read to its end is a success on every hop.
        Assert.True(trace.All(s => s.Span.Status?.Code != SpanStatusCode.Error), $"error status in a successful turn:\n{Describe(trace)}");

        // The model call is what the dashboard's GenAI view lists: provider, model, tokens, time to first chunk, and
        // an event where the first token arrived; no message content (not opted in).
        var modelCall = Assert.Single(trace, s => s.Attribute("gen_ai.operation.name") == "chat");
        Assert.Equal("llm", modelCall.Service);
        Assert.Equal("offline", modelCall.Attribute("gen_ai.provider.name"));
        Assert.NotNull(modelCall.Attribute("gen_ai.request.model"));
        Assert.True(int.Parse(modelCall.Attribute("gen_ai.usage.output_tokens")!, CultureInfo.InvariantCulture) > 0);
        var timeToFirstChunk = double.Parse(modelCall.Attribute("gen_ai.response.time_to_first_chunk")!, CultureInfo.InvariantCulture);
        Assert.InRange(timeToFirstChunk, TimeToFirstTokenMs / 1000.0, (modelCall.Span.EndTimeUnixNano - modelCall.Span.StartTimeUnixNano) / 1e9);
        var firstToken = Assert.Single(modelCall.Span.Events, e => e.Name == "chat.first_token");
        Assert.InRange(firstToken.TimeUnixNano, modelCall.Span.StartTimeUnixNano + TimeToFirstTokenMs * 1_000_000UL, modelCall.Span.EndTimeUnixNano);
        Assert.Null(modelCall.Attribute("gen_ai.input.messages"));
        Assert.Null(modelCall.Attribute("gen_ai.output.messages"));
    }

    [Fact]
    public async Task HealthProbes_Polls_AndAnIdleWindow_RecordNoSpan()
    {
        // CHAT_TRACE_IDLE_SECONDS=600 turns this into the ten-minute measurement of docs/conventions.md.
        var idleSeconds = int.TryParse(Environment.GetEnvironmentVariable("CHAT_TRACE_IDLE_SECONDS"), out var configured) ? configured : 30;
        var windowStart = UnixNanosNow();
        var probes = await DriveProbesAsync(rounds: 10);
        Assert.True(probes >= 200, $"only {probes} probes answered");

        // The rest of the minute idle: the AppHost's health checks, the gateway's active health checks (every 5 s), the
        // gRPC health services' publishers (every 30 s) and Redis keep-alives all run meanwhile.
        var idleUntil = DateTimeOffset.FromUnixTimeMilliseconds((long)(windowStart / 1_000_000)).AddSeconds(idleSeconds);
        if (idleUntil > DateTimeOffset.UtcNow)
        {
            await Task.Delay(idleUntil - DateTimeOffset.UtcNow);
        }

        var windowEnd = UnixNanosNow();

        // A traced turn after the window: once its spans (its Redis commands, drained last) have arrived, everything
        // that started in the window has been exported too.
        await TurnWithTraceAsync("rest", "after the idle minute");

        var inWindow = _otlp.Spans.Where(s => s.Span.StartTimeUnixNano >= windowStart && s.Span.StartTimeUnixNano < windowEnd).ToList();
        var traces = inWindow.GroupBy(s => s.TraceId).ToList();
        var summary = $"{traces.Count} traces ({inWindow.Count} spans, {inWindow.Count(IsProbeOrPoll)} of probes or polls) in the idle window with {probes} probes; " +
            "spans by service and name:\n" + string.Join("\n", inWindow.GroupBy(s => $"{s.Service}/{s.Span.Name} [{s.Span.Kind}]").OrderByDescending(g => g.Count()).Select(g => $"  {g.Count(),5} {g.Key}")) +
            "\nthe first traces:\n" + string.Join("\n", traces.Take(5).Select(t => $"trace {t.Key}:\n{Describe(t)}"));
        output.WriteLine($"{(windowEnd - windowStart) / 1e9:0} s: {summary}");
        Assert.True(traces.Count <= 2 && !inWindow.Any(IsProbeOrPoll), summary);
    }

    /// <summary>
    /// Rounds of every probe and poll there is: /health and /alive of every service (directly and through the gateway's
    /// routes), grpc.health.v1 Check on llm, grpc and the gateway's gRPC port, and the transports' /health, which polls
    /// llm's GetStats. Returns how many answered.
    /// </summary>
    private async Task<int> DriveProbesAsync(int rounds)
    {
        var answered = 0;
        string[] http1Services = ["gateway", "rest", "streaming", "sse", "websocket"];
        string[] http2Services = ["llm", "grpc"];
        using var gateway = _app.CreateHttpClient("gateway", "http");
        var direct = http1Services.ToDictionary(s => s, s => _app.CreateHttpClient(s, "http"));
        foreach (var service in http2Services)
        {
            direct[service] = new HttpClient
            {
                BaseAddress = _app.GetEndpoint(service, "http"),
                DefaultRequestVersion = HttpVersion.Version20,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
        }

        using var gatewayGrpc = GrpcChannel.ForAddress(_app.GetEndpoint("gateway", "http2"));
        using var grpcDirect = GrpcChannel.ForAddress(_app.GetEndpoint("grpc", "http"));
        using var llmDirect = GrpcChannel.ForAddress(_app.GetEndpoint("llm", "http"));
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                foreach (var (_, client) in direct)
                {
                    answered += await OkAsync(client, "/health") + await OkAsync(client, "/alive");
                }

                foreach (var prefix in new[] { "", "/rest", "/streaming", "/sse", "/websocket" })
                {
                    answered += await OkAsync(gateway, $"{prefix}/health");
                }

                answered += await OkAsync(gateway, "/alive");
                foreach (var channel in new[] { gatewayGrpc, grpcDirect, llmDirect })
                {
                    var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()).ResponseAsync.DefaultTimeout();
                    Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
                    answered++;
                }
            }
        }
        finally
        {
            foreach (var client in direct.Values)
            {
                client.Dispose();
            }
        }

        return answered;

        static async Task<int> OkAsync(HttpClient client, string path)
        {
            using var response = await client.GetAsync(path).DefaultTimeout();
            Assert.True(response.IsSuccessStatusCode, $"GET {client.BaseAddress}{path.TrimStart('/')}: {(int)response.StatusCode}");
            return 1;
        }
    }

    private static bool IsProbeOrPoll(ReceivedSpan span) =>
        new[] { span.Span.Name, span.Attribute("url.path"), span.Attribute("http.route"), span.Attribute("rpc.method"), span.Attribute("grpc.method") }
            .Any(text => text is not null && (text.Contains("health", StringComparison.OrdinalIgnoreCase)
                || text.Contains("/alive", StringComparison.Ordinal) || text.Contains("GetStats", StringComparison.Ordinal)))
        || (IsRedis(span) && span.Span.Name is "PING" or "ECHO");

    private static bool IsRedis(ReceivedSpan span) => span.Attribute("db.system") == "redis" || span.Attribute("db.system.name") == "redis";

    /// <summary>
    /// A turn on <paramref name="transport"/> and its whole trace. A service's batch of spans can be lost on the way
    /// (the exporter drops a batch whose export outlasts its 10 s timeout, which happens while this test process is
    /// saturated at the start of the suite), so a turn whose trace has not arrived within 25 s is followed by another,
    /// up to three: the shape of a trace is what is checked here, not the exporter's delivery.
    /// </summary>
    private async Task<List<ReceivedSpan>> TurnWithTraceAsync(string transport, string message)
    {
        var missing = new System.Text.StringBuilder();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var since = UnixNanosNow();
            await SendTurnAsync(_app, transport, $"{message} ({attempt})").DefaultTimeout();
            if (await FindTurnTraceAsync(transport, since, TimeSpan.FromSeconds(25)) is { } trace)
            {
                return trace;
            }

            missing.AppendLine($"turn {attempt}, spans since it ({_otlp.ExportCounts.GetValueOrDefault("traces")} trace exports in all):")
                .AppendLine(Describe(_otlp.Spans.Where(s => s.Span.StartTimeUnixNano >= since)));
        }

        Assert.Fail($"no complete {transport} turn trace for three turns, 25 s each:\n{missing}");
        return [];
    }

    /// <summary>
    /// The trace of the latest turn on <paramref name="transport"/> since <paramref name="since"/>: one with the
    /// gateway's span, the transport's, llm's turn with the model call (usage recorded: it ended) and a Redis command;
    /// null when none is complete within <paramref name="within"/>.
    /// </summary>
    private async Task<List<ReceivedSpan>?> FindTurnTraceAsync(string transport, ulong since, TimeSpan within)
    {
        List<ReceivedSpan>? Find() => _otlp.Spans.Where(s => s.Span.StartTimeUnixNano >= since).GroupBy(s => s.TraceId)
            .Select(t => t.ToList())
            .LastOrDefault(spans => spans.Any(s => s.Service == "gateway" && s.Span.ParentSpanId.IsEmpty)
                && spans.Any(s => s.Service == transport)
                && spans.Any(s => s.Service == "llm" && s.Span.Name == "chat.turn")
                && spans.Any(s => s.Attribute("gen_ai.usage.output_tokens") is not null)
                && spans.Any(s => s.Service == "llm" && IsRedis(s)));

        // Services export every second in Development (OTEL_BSP_SCHEDULE_DELAY=1000); Redis commands are drained
        // into spans every 10 s by the instrumentation.
        var deadline = DateTime.UtcNow + within;
        while (Find() is null)
        {
            if (DateTime.UtcNow > deadline)
            {
                return null;
            }

            await Task.Delay(250);
        }

        // Late spans of the same trace (the gateway's root ends last) get a moment to arrive.
        var id = Find()!.First().TraceId;
        await Task.Delay(1500);
        return _otlp.Spans.Where(s => s.TraceId == id).ToList();
    }

    private static async Task SendTurnAsync(DistributedApplication app, string transport, string message)
    {
        using var http = Untraced.Http(app.GetEndpoint("gateway", "http"));
        switch (transport)
        {
            case "rest":
            {
                using var response = await http.PostAsync("/rest/chat", HttpStreams.PostJson("", new { message }).Content);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.NotNull((await response.ReadJsonObjectAsync()).Str("response"));
                return;
            }
            case "streaming":
            {
                using var response = await http.SendStreamingAsync(HttpStreams.PostJson("/streaming/chat/stream", new { message }));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var lines = await response.ReadNdjsonAsync(System.Diagnostics.Stopwatch.GetTimestamp());
                Assert.Equal("complete", lines[^1].Type);
                return;
            }
            case "sse":
            {
                using var response = await http.SendStreamingAsync(HttpStreams.PostJson("/sse/chat/stream", new { message }));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var frames = await response.ReadSseAsync(System.Diagnostics.Stopwatch.GetTimestamp());
                Assert.Equal("complete", frames.Last(f => f.Data is not null).Event);
                return;
            }
            case "websocket":
            {
                var address = app.GetEndpoint("gateway", "http");
                await using var socket = await ChatSocket.ConnectAsync(new Uri($"ws://{address.Authority}/websocket/ws"));
                Assert.Equal("connected", (await socket.ReceiveMessageAsync()).Type());
                await socket.SendAsync(new { type = "chat", message });
                await socket.ReceiveUntilAsync("response_complete");
                return; // closed normally by DisposeAsync: the connection's spans end then
            }
            case "grpc":
            {
                using var channel = Untraced.Grpc(app.GetEndpoint("gateway", "http2"));
                var client = new ChatService.ChatServiceClient(channel);
                var session = await client.CreateSessionAsync(new CreateSessionRequest());
                using var call = client.SendMessage(new ChatRequest { SessionId = session.SessionId, Message = message });
                var last = default(ChatResponse);
                await foreach (var response in call.ResponseStream.ReadAllAsync())
                {
                    last = response;
                }

                Assert.Equal(ChatResponse.Types.ResponseType.ResponseComplete, last?.Type);
                return;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(transport), transport, null);
        }
    }

    private static ulong UnixNanosNow() => (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000UL;

    private static string Describe(ReceivedSpan s) =>
        $"{s.Service}/{s.Span.Name} [{s.Span.Kind}] status={s.Span.Status?.Code} parent={(s.Span.ParentSpanId.IsEmpty ? "-" : Convert.ToHexStringLower(s.Span.ParentSpanId.Span))} " +
        $"id={Convert.ToHexStringLower(s.Span.SpanId.Span)} {s.Attribute("url.path")} {s.Attribute("rpc.method") ?? s.Attribute("grpc.method")} {s.Attribute("error.type")}";

    private static string Describe(IEnumerable<ReceivedSpan> spans) => string.Join("\n", spans.Select(s => "  " + Describe(s)));

    /// <summary>The whole graph (one replica per transport), every service exporting to the test's OTLP/HTTP receiver.</summary>
    public sealed class GraphFixture : IAsyncLifetime
    {
        public OtlpReceiver Otlp { get; private set; } = null!;

        public DistributedApplication App { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Otlp = await OtlpReceiver.StartAsync().DefaultTimeout();
            var builder = await ChatAppHost.CreateAsync(["--replicas", "sse=1"], new Dictionary<string, string?>
            {
                ["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = Otlp.Endpoint,
                ["Llm:Provider"] = "offline",
                ["Llm:Offline:TimeToFirstTokenMs"] = TimeToFirstTokenMs.ToString(CultureInfo.InvariantCulture),
                ["Llm:Offline:InterTokenDelayMs"] = "0",
            });
            foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
            {
                builder.CreateResourceBuilder(project).WithOtlpExporter(OtlpProtocol.HttpProtobuf);
            }

            App = await builder.StartHealthyAsync(TimeSpan.FromSeconds(90));
        }

        public async Task DisposeAsync()
        {
            if (App is not null)
            {
                await App.DisposeAsync();
            }

            await Otlp.DisposeAsync();
        }
    }
}
