using System.Net;
using System.Net.Http.Headers;
using Chat.Contracts.Public;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Chat.Tests.Llm;
using Chat.Tests.WebSocket;
using Grpc.Core;
using Grpc.Net.Client;

namespace Chat.Tests.Reliability;

/// <summary>
/// What the services export over OTLP, captured by a receiver the test owns: with API keys on at the gateway, the
/// internal credential on, and Gemini (the fake server) behind a key, a turn on each of the five transports leaves
/// spans, logs and metrics in which no key and no message or reply text occurs; with
/// <c>Llm:EnableSensitiveTelemetry</c> on, the same scan finds the message on the gen_ai span (so it would have found
/// it above), and still no key.
/// </summary>
public sealed class TelemetryLeakTests
{
    private const string AliceKey = "otlp-alice-key-5d2f8a61c07e";
    private const string BobKey = "otlp-bob-key-93e1b7c4d0a2";
    private const string GeminiKey = "otlp-gemini-key-6a0f3e9b27d1";

    /// <summary>Every message and reply in these tests starts with it, so a partial copy of one is found too.</summary>
    private const string ContentMarker = "otlpprobe";

    private static readonly string[] Transports = ["rest", "streaming", "sse", "websocket", "grpc"];
    private static readonly string[] Services = ["gateway", .. Transports, "llm"];

    [Fact]
    public async Task ExportedTelemetry_OfATurnOnEveryTransport_HoldsNoKeyAndNoMessageContent()
    {
        await using var otlp = await OtlpReceiver.StartAsync().DefaultTimeout();
        await using var gemini = await FakeGeminiServer.StartAsync().DefaultTimeout();
        await using var app = await StartGraphAsync(otlp, gemini, sensitiveTelemetry: false);

        var content = new List<string>();
        foreach (var transport in Transports)
        {
            var message = $"{ContentMarker} message over {transport} 41c7";
            var reply = $"{ContentMarker} reply over {transport} 8e2a";
            content.AddRange([message, reply]);
            gemini.Enqueue(FakeGeminiServer.Stream(FakeGeminiServer.TextEvent(reply, "STOP")));
            var received = await SendTurnAsync(app, transport, message).DefaultTimeout();
            Assert.Contains(reply, received, StringComparison.Ordinal);
        }

        Assert.Equal(Transports.Length, gemini.Requests.Count);
        Assert.All(gemini.Requests, r => Assert.Equal(GeminiKey, r.Headers["x-goog-api-key"]));

        // The capture is complete before it is searched: for each transport, one trace across the gateway, the
        // transport and llm's turn and model-call spans (the latter with token usage), and logs from every service.
        await WaitForAsync(otlp, () => Transports.All(transport => TurnTrace(otlp, transport) is not null)
            && Services.All(service => otlp.Logs.Any(l => l.Service == service)),
            () => $"spans by service: {string.Join(", ", otlp.Spans.GroupBy(s => s.Service).Select(g => $"{g.Key}={g.Count()}"))}; " +
                  $"turn traces: {string.Join(", ", Transports.Where(t => TurnTrace(otlp, t) is null))} missing; " +
                  $"logs from: {string.Join(", ", otlp.Logs.Select(l => l.Service).Distinct())}");
        foreach (var transport in Transports)
        {
            var trace = TurnTrace(otlp, transport)!;
            var modelCall = trace.Single(s => s.Service == "llm" && s.Attribute("gen_ai.operation.name") == "chat");
            Assert.Equal("7", modelCall.Attribute("gen_ai.usage.output_tokens"));
            Assert.Equal("11", modelCall.Attribute("gen_ai.usage.input_tokens"));
        }

        // A successful turn is no error anywhere on its path: the HTTP transports read StreamTurn to its end instead
        // of cancelling it by disposal (which made every turn's client span CANCELLED).
        string[] httpTransports = ["rest", "streaming", "sse"];
        await WaitForAsync(otlp, () => httpTransports.All(t => StreamTurnClientSpan(TurnTrace(otlp, t)!, t) is not null),
            () => "no StreamTurn client span yet: " + string.Join("; ", httpTransports.Select(t => Describe(TurnTrace(otlp, t)!))));
        foreach (var transport in httpTransports)
        {
            var trace = TurnTrace(otlp, transport)!;
            Assert.True(trace.All(s => s.Span.Status?.Code != OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode.Error),
                $"{transport}: {Describe(trace)}");
        }

        Assert.Contains("metrics", otlp.ExportCounts.Keys);
        string[] secrets = [AliceKey, BobKey, GeminiKey, await app.GetInternalApiKeyAsync(), ContentMarker, .. content];
        AssertNowhere(otlp, secrets);
        var consoleLogs = new System.Text.StringBuilder();
        foreach (var resource in app.ProcessResources())
        {
            consoleLogs.AppendLine(await app.GetConsoleLogAsync(resource.Name, 10_000));
        }

        Assert.All(secrets, secret => Assert.DoesNotContain(secret, consoleLogs.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task ExportedTelemetry_WithSensitiveTelemetryOn_HoldsTheMessageOnTheGenAiSpan_AndStillNoKey()
    {
        await using var otlp = await OtlpReceiver.StartAsync().DefaultTimeout();
        await using var gemini = await FakeGeminiServer.StartAsync().DefaultTimeout();
        await using var app = await StartSensitiveGraphAsync(otlp, gemini);

        var message = $"{ContentMarker} sensitive message 0d93";
        var reply = $"{ContentMarker} sensitive reply 7b51";
        gemini.Enqueue(FakeGeminiServer.Stream(FakeGeminiServer.TextEvent(reply, "STOP")));
        using var rest = Untraced.Http(app.GetEndpoint("rest", "http"));
        using var response = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(reply, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await WaitForAsync(otlp, () => TurnTrace(otlp, "rest", throughGateway: false) is not null, () => "no rest turn trace yet");
        var modelCall = TurnTrace(otlp, "rest", throughGateway: false)!.Single(s => s.Service == "llm" && s.Attribute("gen_ai.operation.name") == "chat");

        // Content is where the setting puts it (the gen_ai span: input and output), and the scan the test above
        // relies on finds it there; keys stay out all the same.
        var onModelCall = Google.Protobuf.JsonFormatter.Default.Format(modelCall.Span);
        Assert.Contains(message, onModelCall, StringComparison.Ordinal);
        Assert.Contains(reply, onModelCall, StringComparison.Ordinal);
        Assert.Contains(otlp.FindOccurrences(ContentMarker), where => where.StartsWith("traces export", StringComparison.Ordinal));
        AssertNowhere(otlp, [GeminiKey, await app.GetInternalApiKeyAsync()]);
    }

    /// <summary>
    /// The positive control's own small graph (Redis, llm with sensitive telemetry on, rest; the internal credential
    /// as Program.cs wires it): a second whole graph only to flip one llm setting would double the time.
    /// </summary>
    private static async Task<DistributedApplication> StartSensitiveGraphAsync(OtlpReceiver otlp, FakeGeminiServer gemini)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("chat-telemetry-").FullName;
        var builder = DistributedApplicationTestingBuilder.Create(
            [.. OtlpTo(otlp), "--Llm:Provider=gemini", $"--Llm:Gemini:BaseUrl={gemini.BaseUrl}", "--Llm:EnableSensitiveTelemetry=true",
                $"--GEMINI_API_KEY={GeminiKey}", $"--Redis:DataDirectory={dataDirectory}"]).WithResourceStates();
        var internalApiKey = builder.AddInternalApiKey();
        var redis = builder.AddChatRedis("redis");
        var llm = builder.AddProjectReplicas<Projects.Chat_Llm_Service>("llm", 1, llm => llm
            .AsHttp2Service()
            .WithHttp2HealthCheck("/health")
            .WithEnvironment(builder.Configuration.GetSection("Llm"))
            .WithSecretEnvironment("GEMINI_API_KEY")
            .WithInternalApiKey(internalApiKey)
            .WithReference(redis)
            .WaitFor(redis));
        builder.AddProjectReplicas<Projects.Chat_Rest>("rest", 1, rest => rest
            .WithHttpHealthCheck("/health")
            .WithReference(llm)
            .WithInternalApiKey(internalApiKey));
        ExportOverHttp(builder);
        return await builder.StartHealthyAsync(TimeSpan.FromSeconds(90));
    }

    /// <summary>The receiver as Aspire's OTLP/HTTP endpoint (ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL)…</summary>
    private static string[] OtlpTo(OtlpReceiver otlp) => [$"--ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL={otlp.Endpoint}"];

    /// <summary>…and every service exporting over OTLP/HTTP (Aspire's default is gRPC): the receiver speaks HTTP.</summary>
    private static void ExportOverHttp(IDistributedApplicationTestingBuilder builder)
    {
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            builder.CreateResourceBuilder(project).WithOtlpExporter(OtlpProtocol.HttpProtobuf);
        }
    }

    private static void AssertNowhere(OtlpReceiver otlp, IEnumerable<string> values)
    {
        var found = values.SelectMany(value => otlp.FindOccurrences(value).Select(where => $"'{value}' in {where}")).ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    private static async Task<DistributedApplication> StartGraphAsync(OtlpReceiver otlp, FakeGeminiServer gemini, bool sensitiveTelemetry)
    {
        var appHost = await ChatAppHost.CreateAsync(["--replicas", "sse=1"], new Dictionary<string, string?>
            {
                ["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = otlp.Endpoint,
                ["Llm:Provider"] = "gemini",
                ["Llm:Gemini:BaseUrl"] = gemini.BaseUrl,
                ["Llm:EnableSensitiveTelemetry"] = sensitiveTelemetry ? "true" : "false",
                ["GEMINI_API_KEY"] = GeminiKey,
                ["Gateway:ApiKeys:alice:Key"] = AliceKey,
                ["Gateway:ApiKeys:bob:Key"] = BobKey,
            }).DefaultTimeout();
        // Every log category at Debug, the framework's too (ASP.NET Core's "Request starting" line carries the query
        // string, YARP's the forwarded URL): a key or a message must not reach a log record at any level. A
        // provider's own rule beats every general one, so this overrides "Microsoft.AspNetCore": "Warning" of the
        // services' appsettings.json (whose dotted name cannot be set from the environment through /bin/sh).
        ExportOverHttp(appHost);
        foreach (var project in appHost.Resources.OfType<ProjectResource>().ToList())
        {
            appHost.CreateResourceBuilder(project)
                .WithEnvironment("Logging__OpenTelemetry__LogLevel__Default", "Debug")
                .WithEnvironment("Logging__Console__LogLevel__Default", "Debug");
        }

        return await appHost.StartHealthyAsync(TimeSpan.FromSeconds(90));
    }

    /// <summary>
    /// One turn through the gateway on one transport, the key presented each way the gateway accepts it (header,
    /// bearer token, WebSocket query string, gRPC metadata); returns everything the client received.
    /// </summary>
    private static async Task<string> SendTurnAsync(DistributedApplication app, string transport, string message)
    {
        using var http = Untraced.Http(app.GetEndpoint("gateway", "http"));
        switch (transport)
        {
            case "rest":
            {
                http.DefaultRequestHeaders.Add("X-Api-Key", AliceKey);
                using var response = await http.PostAsync("/rest/chat", HttpStreams.PostJson("", new { message }).Content);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                return await response.Content.ReadAsStringAsync();
            }
            case "streaming":
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BobKey);
                using var response = await http.SendStreamingAsync(HttpStreams.PostJson("/streaming/chat/stream", new { message }));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var lines = await response.ReadNdjsonAsync(System.Diagnostics.Stopwatch.GetTimestamp());
                Assert.Equal("complete", lines[^1].Type);
                return string.Join('\n', lines.Select(l => l.Json.ToJsonString()));
            }
            case "sse":
            {
                http.DefaultRequestHeaders.Add("X-Api-Key", BobKey);
                using var response = await http.SendStreamingAsync(HttpStreams.PostJson("/sse/chat/stream", new { message }));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var frames = await response.ReadSseAsync(System.Diagnostics.Stopwatch.GetTimestamp());
                Assert.Equal("complete", frames.Last(f => f.Data is not null).Event);
                return string.Join('\n', frames.Select(f => f.Data));
            }
            case "websocket":
            {
                // Browsers cannot set headers on a WebSocket: the key rides in the query string, the riskiest place.
                var address = app.GetEndpoint("gateway", "http");
                await using var socket = await ChatSocket.ConnectAsync(new Uri($"ws://{address.Authority}/websocket/ws?api_key={AliceKey}"));
                Assert.Equal("connected", (await socket.ReceiveMessageAsync()).Type());
                await socket.SendAsync(new { type = "chat", message });
                var messages = await socket.ReceiveUntilAsync("response_complete");
                return string.Join('\n', messages.Select(m => m.GetRawText()));
            }
            case "grpc":
            {
                using var channel = Untraced.Grpc(app.GetEndpoint("gateway", "http2"));
                var client = new ChatService.ChatServiceClient(channel);
                var asAlice = new Metadata { { "x-api-key", AliceKey } };
                var session = await client.CreateSessionAsync(new CreateSessionRequest(), asAlice);
                using var call = client.SendMessage(new ChatRequest { SessionId = session.SessionId, Message = message }, asAlice);
                var responses = new List<ChatResponse>();
                await foreach (var response in call.ResponseStream.ReadAllAsync())
                {
                    responses.Add(response);
                }

                Assert.Equal(ChatResponse.Types.ResponseType.ResponseComplete, responses[^1].Type);
                return string.Join('\n', responses);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(transport), transport, null);
        }
    }

    /// <summary>
    /// The trace of the transport's turn: spans from the gateway (unless called directly) and the transport, and llm's chat.turn span with the
    /// model call (gen_ai, with token usage) under it; null until all of them have arrived.
    /// </summary>
    private static List<ReceivedSpan>? TurnTrace(OtlpReceiver otlp, string transport, bool throughGateway = true)
    {
        foreach (var trace in otlp.Spans.GroupBy(s => s.TraceId))
        {
            var spans = trace.ToList();
            if ((!throughGateway || spans.Any(s => s.Service == "gateway"))
                && spans.Any(s => s.Service == transport)
                && spans.Any(s => s.Service == "llm" && s.Span.Name == "chat.turn")
                && spans.Any(s => s.Service == "llm" && s.Attribute("gen_ai.operation.name") == "chat" && s.Attribute("gen_ai.usage.output_tokens") is not null))
            {
                return spans;
            }
        }

        return null;
    }

    /// <summary>The transport's client span of its chat.llm.v1 StreamTurn call (HTTP or gRPC instrumentation).</summary>
    private static ReceivedSpan? StreamTurnClientSpan(IEnumerable<ReceivedSpan> trace, string transport) =>
        trace.FirstOrDefault(s => s.Service == transport && s.Span.Kind == OpenTelemetry.Proto.Trace.V1.Span.Types.SpanKind.Client
            && (s.Span.Name.Contains("StreamTurn", StringComparison.Ordinal)
                || s.Span.Attributes.Any(a => OtlpReceiver.Text(a.Value)?.Contains("StreamTurn", StringComparison.Ordinal) == true)));

    private static string Describe(IEnumerable<ReceivedSpan> trace) => string.Join(", ", trace.Select(s =>
        $"{s.Service}/{s.Span.Name} [{s.Span.Kind}] {s.Span.Status?.Code} {s.Attribute("error.type")} {s.Attribute("rpc.grpc.status_code") ?? s.Attribute("grpc.status_code")}"));

    private static async Task WaitForAsync(OtlpReceiver otlp, Func<bool> arrived, Func<string> whatIsMissing)
    {
        // Services export every second in Development (OTEL_BSP_SCHEDULE_DELAY=1000); a WebSocket's span ends at close.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!arrived())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Telemetry did not arrive within 20 s: {whatIsMissing()} (exports: " +
                $"{string.Join(", ", otlp.ExportCounts.Select(e => $"{e.Key}={e.Value}"))})");
            await Task.Delay(200);
        }
    }
}
