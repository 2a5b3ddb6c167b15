using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public sealed class GatewayStreamingTests(GatewayFixture gateway)
{
    [Fact]
    public async Task Sse_EventsArriveIncrementallyAndUncompressed()
    {
        using var client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/sse/chat/stream");
        request.Headers.AcceptEncoding.ParseAdd("gzip, br");

        var clock = Stopwatch.StartNew();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync().DefaultTimeout());
        var arrivals = new List<(string Line, TimeSpan At)>();
        while (await reader.ReadLineAsync().DefaultTimeout() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                arrivals.Add((line, clock.Elapsed));
            }
        }

        Assert.Equal(Enumerable.Range(1, GatewayFixture.SseEventCount).Select(n => $"data: {{\"n\":{n}}}"), arrivals.Select(a => a.Line));
        // Ten events 50 ms apart: a buffering hop would deliver them together at the end.
        var spread = arrivals[^1].At - arrivals[0].At;
        Assert.True(spread >= TimeSpan.FromMilliseconds(300), $"events arrived within {spread.TotalMilliseconds} ms of each other");
    }

    [Fact]
    public async Task ClientsHangingUpOnStreams_DoNotTakeTheReplicaOut()
    {
        // No draining of the unread rest: a disposed response closes its connection at once, as a leaving browser does.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0, ActivityHeadersPropagator = null })
        {
            BaseAddress = gateway.Http1Address,
        };
        for (var i = 0; i < 12; i++)
        {
            using var response = await client.GetAsync("/sse/chat/endless", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync().DefaultTimeout());
            Assert.StartsWith("data: ", await reader.ReadLineAsync().DefaultTimeout(), StringComparison.Ordinal);
            // Disposing the response mid-stream aborts it: the gateway sees the client go away.
        }

        // Let the gateway see the hang-ups (its next writes fail) and report them to the passive health policy.
        await Task.Delay(500);
        var lookup = gateway.GatewayServices.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>();
        Assert.True(lookup.TryGetCluster("sse", out var cluster));
        Assert.All(cluster.Destinations.Values, d => Assert.NotEqual(Yarp.ReverseProxy.Model.DestinationHealth.Unhealthy, d.Health.Passive));
    }

    [Fact]
    public async Task WebSocket_RoundTripsThroughTheGateway()
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(WebSocketUri(), CancellationToken.None).DefaultTimeout();

        Assert.Equal("hello through the gateway", await RoundTripAsync(socket, "hello through the gateway"));

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).DefaultTimeout();
    }

    [Fact]
    public async Task WebSocket_IdleWithPings_OutlivesTheActivityTimeout()
    {
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
        await socket.ConnectAsync(WebSocketUri(), CancellationToken.None).DefaultTimeout();

        await Task.Delay(GatewayFixture.WebSocketActivityTimeout * 2);

        Assert.Equal(WebSocketState.Open, socket.State);
        Assert.Equal("still here", await RoundTripAsync(socket, "still here"));
    }

    [Fact]
    public async Task WebSocket_IdleWithoutPings_IsClosedByTheActivityTimeout()
    {
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(WebSocketUri(), CancellationToken.None).DefaultTimeout();

        await Task.Delay(GatewayFixture.WebSocketActivityTimeout * 2);

        // The gateway dropped both legs: the next receive ends instead of waiting for a reply.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await socket.SendAsync("anyone?"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
            var received = await socket.ReceiveAsync(new byte[64], CancellationToken.None).DefaultTimeout();
            if (received.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketException("closed");
            }
        });
    }

    [Fact]
    public async Task NativeGrpc_OnTheHttp2Port_ReachesTheBackendOverHttp2()
    {
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var client = new ChatService.ChatServiceClient(channel);

        var session = await client.CreateSessionAsync(new CreateSessionRequest { ModelId = "m1" }).ResponseAsync.DefaultTimeout();

        Assert.Equal("session-1", session.SessionId);
        Assert.Equal("m1", session.Model);
        Assert.Equal("HTTP/2", session.Message);
    }

    [Theory]
    [InlineData("/grpc.health.v1.Health/Check")]
    [InlineData("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")]
    [InlineData("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")]
    public async Task GrpcServicePaths_OnTheHttp2Port_RouteToTheGrpcCluster(string path)
    {
        using var client = new HttpClient
        {
            BaseAddress = gateway.Http2Address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using var response = await client.PostAsync(path, new ByteArrayContent([])).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = await EchoReply.ReadAsync(response);
        Assert.Equal("grpc-0", echo.Backend);
        Assert.Equal(path, echo.Path);
    }

    [Fact]
    public async Task NativeGrpc_BidirectionalStream_PassesThroughTheGateway()
    {
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var client = new ChatService.ChatServiceClient(channel);
        using var call = client.Chat(cancellationToken: DefaultTimeoutToken());

        await call.RequestStream.WriteAsync(new ChatRequest { Type = ChatRequest.Types.MessageType.Ping, SessionId = "s" }).DefaultTimeout();
        Assert.True(await call.ResponseStream.MoveNext().DefaultTimeout());
        Assert.Equal(ChatResponse.Types.ResponseType.Pong, call.ResponseStream.Current.Type);

        await call.RequestStream.WriteAsync(new ChatRequest { SessionId = "s", Message = "second" }).DefaultTimeout();
        Assert.True(await call.ResponseStream.MoveNext().DefaultTimeout());
        Assert.Equal("second", call.ResponseStream.Current.ChunkText);

        await call.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await call.ResponseStream.MoveNext().DefaultTimeout());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task NativeGrpc_InboundPrincipalMetadata_IsStripped()
    {
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var client = new ChatService.ChatServiceClient(channel);
        var marker = Guid.NewGuid().ToString("N");

        await client.CreateSessionAsync(new CreateSessionRequest { ModelId = marker }, new Metadata { { "x-chat-principal", "mallory" } })
            .ResponseAsync.DefaultTimeout();

        var seen = gateway.Grpc.Requests.Last(r => r.Path == "/chat.ChatService/CreateSession");
        Assert.False(seen.Headers.ContainsKey("X-Chat-Principal"));
    }

    [Fact]
    public async Task NativeGrpc_Traceparent_ReachesTheBackendSampledWithTheCallersTraceId()
    {
        // A hand-made gRPC call, so that the traceparent on the wire is exactly the caller's (a gRPC client in this
        // process would start its own trace under the in-process OpenTelemetry listener).
        using var client = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = gateway.Http2Address };
        var traceId = ActivityTraceId.CreateRandom();
        var callerSpanId = ActivitySpanId.CreateRandom();
        var marker = Guid.NewGuid().ToString("N");
        var message = new CreateSessionRequest { ModelId = marker }.ToByteArray();
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/chat.ChatService/CreateSession")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.ParseAdd("trailers");
        request.Headers.Add("traceparent", $"00-{traceId}-{callerSpanId}-01");

        using var response = await client.SendAsync(request).DefaultTimeout();
        var reply = CreateSessionResponse.Parser.ParseFrom((await response.Content.ReadAsByteArrayAsync().DefaultTimeout())[5..]);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["0"], response.TrailingHeaders.GetValues("grpc-status"));
        Assert.Equal(marker, reply.Model);
        var seen = gateway.Grpc.Requests.Last(r => r.Path == "/chat.ChatService/CreateSession");
        var parts = seen.Headers["traceparent"].Split('-');
        Assert.Equal(traceId.ToHexString(), parts[1]);
        Assert.NotEqual(callerSpanId.ToHexString(), parts[2]);
        Assert.Equal("01", parts[3]);
    }

    [Theory]
    [InlineData("/grpc")]
    [InlineData("")]
    public async Task GrpcWeb_OnTheHttp1Port_ReachesTheBackend(string pathBase)
    {
        var handler = new GrpcWebHandler(GrpcWebMode.GrpcWeb, new PathBaseHandler(pathBase, new SocketsHttpHandler()));
        using var channel = GrpcChannel.ForAddress(gateway.Http1Address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            HttpVersion = HttpVersion.Version11,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });
        var client = new ChatService.ChatServiceClient(channel);

        var session = await client.CreateSessionAsync(new CreateSessionRequest { ModelId = "web" }).ResponseAsync.DefaultTimeout();

        Assert.Equal("session-1", session.SessionId);
        Assert.Equal("web", session.Model);
        // The browser's leg is HTTP/1.1; the gateway's leg to the h2c-only backend is HTTP/2.
        Assert.Equal("HTTP/2", session.Message);
    }

    private Uri WebSocketUri() => new($"ws://127.0.0.1:{gateway.Http1Port}/websocket/ws");

    private static async Task<string> RoundTripAsync(ClientWebSocket socket, string text)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
        var buffer = new byte[1024];
        var received = await socket.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
        Assert.Equal(WebSocketMessageType.Text, received.MessageType);
        return Encoding.UTF8.GetString(buffer, 0, received.Count);
    }

    private static CancellationToken DefaultTimeoutToken() => Infrastructure.TaskExtensions.DefaultTimeoutToken();

    /// <summary>gRPC clients call absolute paths (/chat.ChatService/…); this puts the gateway prefix in front.</summary>
    internal sealed class PathBaseHandler(string pathBase, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri!;
            request.RequestUri = new UriBuilder(uri) { Path = pathBase + uri.AbsolutePath }.Uri;
            return base.SendAsync(request, cancellationToken);
        }
    }
}
