extern alias gateway;

using System.Net.WebSockets;
using System.Text.Json;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Gateway;

/// <summary>
/// The real gateway (gateway::Program on Kestrel, both ports) in front of small real backends: two REST replicas,
/// one each for streaming, SSE, WebSocket and h2c gRPC, wired through the same services__name__http__i keys the
/// AppHost injects. Health probes run every 200 ms and the WebSocket cluster's activity timeout is 1.5 s, so the
/// behaviours the tests look for happen in test time.
/// </summary>
public class GatewayFixture : IAsyncLifetime
{
    public static readonly TimeSpan WebSocketActivityTimeout = TimeSpan.FromSeconds(1.5);
    public const int SseEventCount = 10;
    public static readonly TimeSpan SseEventInterval = TimeSpan.FromMilliseconds(50);

    private readonly List<TestBackend> _backends = [];
    private WebApplicationFactory<gateway::Program>? _factory;

    public TestBackend Rest0 { get; private set; } = null!;
    public TestBackend Rest1 { get; private set; } = null!;
    public TestBackend Streaming { get; private set; } = null!;
    public TestBackend Sse { get; private set; } = null!;
    public TestBackend WebSocket { get; private set; } = null!;
    public TestBackend Grpc { get; private set; } = null!;

    public int Http1Port { get; } = RedisServer.FreeTcpPort();
    public int Http2Port { get; } = RedisServer.FreeTcpPort();

    public Uri Http1Address => new($"http://127.0.0.1:{Http1Port}");
    public Uri Http2Address => new($"http://127.0.0.1:{Http2Port}");

    public IServiceProvider GatewayServices => _factory!.Services;

    public IEnumerable<TestBackend> Backends => _backends;

    public async Task InitializeAsync()
    {
        Rest0 = await AddAsync(TestBackend.StartAsync("rest-0", HttpProtocols.Http1, MapEcho));
        Rest1 = await AddAsync(TestBackend.StartAsync("rest-1", HttpProtocols.Http1, MapEcho));
        Streaming = await AddAsync(TestBackend.StartAsync("streaming-0", HttpProtocols.Http1, MapNdjson));
        Sse = await AddAsync(TestBackend.StartAsync("sse-0", HttpProtocols.Http1, MapSse,
            services => services.AddResponseCompression(options =>
                options.MimeTypes = ResponseCompressionDefaults.MimeTypes.Append("text/event-stream"))));
        WebSocket = await AddAsync(TestBackend.StartAsync("websocket-0", HttpProtocols.Http1, MapWebSocketEcho));
        Grpc = await AddAsync(TestBackend.StartAsync("grpc-0", HttpProtocols.Http2, MapGrpc, services => services.AddGrpc()));

        var settings = new Dictionary<string, string>
        {
            ["urls"] = Http1Address.ToString(),
            ["GATEWAY_HTTP2_URL"] = Http2Address.ToString(),
            ["services:rest:http:0"] = Rest0.Address,
            ["services:rest:http:1"] = Rest1.Address,
            ["services:streaming:http:0"] = Streaming.Address,
            ["services:sse:http:0"] = Sse.Address,
            ["services:websocket:http:0"] = WebSocket.Address,
            ["services:grpc:http:0"] = Grpc.Address,
            ["ReverseProxy:Clusters:websocket:HttpRequest:ActivityTimeout"] = WebSocketActivityTimeout.ToString(),
        };
        foreach (var cluster in new[] { "rest", "streaming", "sse", "websocket", "grpc" })
        {
            settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Active:Interval"] = "00:00:00.200";
            settings[$"ReverseProxy:Clusters:{cluster}:HealthCheck:Active:Timeout"] = "00:00:01";
        }

        AddSettings(settings);
        _factory = new WebApplicationFactory<gateway::Program>().WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }

            ConfigureGateway(builder);
        });
        _factory.UseKestrel();
        _factory.StartServer();
    }

    /// <summary>
    /// A client that sends exactly the headers a test gives it: no trace context of its own (the in-process
    /// OpenTelemetry listener would otherwise make it replace a test's traceparent).
    /// </summary>
    /// <summary>Configuration a derived fixture adds on top (API keys, rate limits, CORS).</summary>
    protected virtual void AddSettings(IDictionary<string, string> settings)
    {
    }

    /// <summary>Anything else a derived fixture changes on the gateway's host (its logging, say).</summary>
    protected virtual void ConfigureGateway(IWebHostBuilder builder)
    {
    }

    public HttpClient CreateClient() => new(new SocketsHttpHandler { ActivityHeadersPropagator = null })
    {
        BaseAddress = Http1Address,
        Timeout = Infrastructure.TaskExtensions.DefaultTimeoutSpan,
    };

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }

    private async Task<TestBackend> AddAsync(Task<TestBackend> starting)
    {
        var backend = await starting;
        _backends.Add(backend);
        return backend;
    }

    /// <summary>Every path answers with who served it and what arrived, so routing is visible from the client.</summary>
    private static void MapEcho(WebApplication app) =>
        app.Map("/{**path}", (HttpContext context) => TypedResults.Json(new EchoReply(
            context.Response.Headers["X-Served-By"].ToString(),
            context.Request.Path.Value ?? "",
            context.Request.QueryString.Value ?? "")));

    private static void MapSse(WebApplication app)
    {
        app.UseResponseCompression();
        app.MapGet("/chat/stream", async (HttpContext context, CancellationToken cancellationToken) =>
        {
            context.Response.ContentType = "text/event-stream";
            for (var i = 1; i <= SseEventCount; i++)
            {
                await context.Response.WriteAsync($"data: {{\"n\":{i}}}\n\n", cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
                await Task.Delay(SseEventInterval, cancellationToken);
            }
        });
        // Until the client goes away: the gateway has to notice a hang-up.
        app.MapGet("/chat/endless", EndlessSseAsync);
        // The resumable form of a turn (the gateway counts it as a stream): endless too, so it stays open until left.
        app.MapGet("/chat/turns/{turnId}/events", EndlessSseAsync);
        // A replica that dies mid-stream: one event, then (once the test has read it) the connection is gone.
        app.MapGet("/chat/dies/{gate}", (HttpContext context, string gate) =>
            DieMidStreamAsync(context, "text/event-stream", "data: {\"n\":1}\n\n", gate));
        MapEcho(app);
    }

    /// <summary>The echo, plus an NDJSON stream whose replica dies after its first line.</summary>
    private static void MapNdjson(WebApplication app)
    {
        app.MapPost("/chat/dies/{gate}", (HttpContext context, string gate) =>
            DieMidStreamAsync(context, "application/x-ndjson", "{\"type\":\"chunk\",\"text\":\"one \"}\n", gate));
        MapEcho(app);
    }

    /// <summary>Writes the first part of a stream, waits until the test has it, then drops the connection as a dying process would.</summary>
    private static async Task DieMidStreamAsync(HttpContext context, string contentType, string first, string gate)
    {
        context.Response.ContentType = contentType;
        await context.Response.WriteAsync(first);
        await context.Response.Body.FlushAsync();
        await BackendGates.WaitAsync(gate);
        context.Abort();
    }

    private static async Task EndlessSseAsync(HttpContext context, CancellationToken cancellationToken)
    {
        context.Response.ContentType = "text/event-stream";
        for (var i = 1; !cancellationToken.IsCancellationRequested; i++)
        {
            await context.Response.WriteAsync($"data: {{\"n\":{i}}}\n\n", cancellationToken);
            await context.Response.Body.FlushAsync(cancellationToken);
            await Task.Delay(SseEventInterval, cancellationToken);
        }
    }

    private static void MapWebSocketEcho(WebApplication app)
    {
        app.UseWebSockets();
        // A replica that dies mid-conversation: it echoes the first message, and drops the connection on the second.
        app.Map("/ws-dies", async (HttpContext context, CancellationToken cancellationToken) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                return Results.BadRequest();
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            var received = await socket.ReceiveAsync(buffer, cancellationToken);
            await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, cancellationToken);
            await socket.ReceiveAsync(buffer, cancellationToken);
            context.Abort();
            return Results.Empty;
        });
        app.Map("/ws", async (HttpContext context, CancellationToken cancellationToken) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                return Results.BadRequest();
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, cancellationToken);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cancellationToken);
                    return Results.Empty;
                }

                await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, cancellationToken);
            }
        });
        MapEcho(app);
    }

    private static void MapGrpc(WebApplication app)
    {
        app.UseGrpcWeb(new GrpcWebOptions { DefaultEnabled = true });
        app.MapGrpcService<TestChatService>();
        MapEcho(app);
    }
}

public sealed record EchoReply(string Backend, string Path, string Query)
{
    public static async Task<EchoReply> ReadAsync(HttpResponseMessage response)
    {
        var json = await response.Content.ReadAsStringAsync().DefaultTimeout();
        return JsonSerializer.Deserialize<EchoReply>(json, JsonSerializerOptions.Web)
            ?? throw new InvalidOperationException($"Not an echo reply: {json}");
    }
}

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "Gateway";
}
