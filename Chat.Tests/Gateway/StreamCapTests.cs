using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Chat.Contracts.Public;
using Chat.Gateway;
using Chat.Tests.Infrastructure;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Chat.Tests.Gateway;

/// <summary>
/// The per-caller cap on concurrent streams (two here): the third stream of a caller is refused in its protocol's
/// idiom before it reaches a backend, other callers and non-stream requests pass, and an ended stream frees its place.
/// Each test uses its own API key, so their streams never count against each other.
/// </summary>
[Collection(StreamCapGatewayCollection.Name)]
public sealed class StreamCapTests(StreamCapGatewayFixture gateway) : IDisposable
{
    private readonly MetricCollector<long> _refused = new(
        gateway.GatewayServices.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), GatewayTelemetry.MeterName, "chat.gateway.streams.refused");

    [Fact]
    public async Task Sse_ThirdConcurrentStream_Is429ProblemWithRetryAfter_OthersPass_AndAnEndedStreamFreesItsPlace()
    {
        using var erin = Client(StreamCapGatewayFixture.SseCallerKey);
        var first = await OpenSseAsync(erin, $"/sse/chat/turns/{Guid.NewGuid():N}/events");
        using var second = await OpenSseAsync(erin, $"/sse/chat/turns/{Guid.NewGuid():N}/events");

        var refusedTurn = Guid.NewGuid().ToString("N");
        using var refused = await erin.GetAsync($"/sse/chat/turns/{refusedTurn}/events", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(3), refused.Headers.RetryAfter?.Delta);
        using (var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync().DefaultTimeout()))
        {
            Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
            Assert.Equal("Too many streams", problem.RootElement.GetProperty("title").GetString());
        }

        Assert.DoesNotContain(gateway.Sse.Requests, r => r.Path.Contains(refusedTurn, StringComparison.Ordinal));
        Assert.Contains(_refused.GetMeasurementSnapshot(), m => m.Value == 1 && Equals(m.Tags[GatewayTelemetry.ProtocolTag], "sse"));

        // Requests that are not streams are not counted, and another caller has a cap of its own.
        using var sessions = await erin.GetAsync("/rest/sessions").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, sessions.StatusCode);
        using var heidi = Client(StreamCapGatewayFixture.OtherCallerKey);
        using (var otherCallers = await OpenSseAsync(heidi, $"/sse/chat/turns/{Guid.NewGuid():N}/events"))
        {
            Assert.Equal(HttpStatusCode.OK, otherCallers.StatusCode);
        }

        // The client leaves one stream: its place is free again once the gateway has seen it go.
        first.Dispose();
        using var admitted = await EventuallyAdmittedAsync(() => erin.GetAsync($"/sse/chat/turns/{Guid.NewGuid():N}/events", HttpCompletionOption.ResponseHeadersRead));
        using var reader = new StreamReader(await admitted.Content.ReadAsStreamAsync().DefaultTimeout());
        Assert.StartsWith("data: ", await reader.ReadLineAsync().DefaultTimeout(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebSocket_ThirdConcurrentUpgrade_IsRefusedWith429BeforeTheUpgrade_UntilOneCloses()
    {
        using var first = await ConnectWebSocketAsync();
        using var second = await ConnectWebSocketAsync();

        using var third = WebSocketFor(StreamCapGatewayFixture.WebSocketCallerKey);
        third.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => third.ConnectAsync(WebSocketUri(), CancellationToken.None).DefaultTimeout());

        Assert.Equal(HttpStatusCode.TooManyRequests, third.HttpStatusCode);
        Assert.Equal(["3"], third.HttpResponseHeaders!["Retry-After"]);
        Assert.Contains(_refused.GetMeasurementSnapshot(), m => Equals(m.Tags[GatewayTelemetry.ProtocolTag], "websocket"));

        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).DefaultTimeout();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            using var again = WebSocketFor(StreamCapGatewayFixture.WebSocketCallerKey);
            try
            {
                await again.ConnectAsync(WebSocketUri(), CancellationToken.None).DefaultTimeout();
                Assert.Equal(WebSocketState.Open, again.State);
                await again.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).DefaultTimeout();
                break;
            }
            catch (WebSocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }

        await second.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).DefaultTimeout();
    }

    [Fact]
    public async Task Grpc_ThirdConcurrentStreamingCall_IsResourceExhaustedWithRetryAfter_ForNativeAndGrpcWeb()
    {
        var grace = new Metadata { { "x-api-key", StreamCapGatewayFixture.GrpcCallerKey } };
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var client = new ChatService.ChatServiceClient(channel);
        using var first = await OpenChatAsync(client, grace);
        using var second = await OpenChatAsync(client, grace);

        using var refused = client.Chat(grace);
        var error = await Assert.ThrowsAsync<RpcException>(() => refused.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("3", error.Trailers.GetValue("retry-after"));

        // gRPC-Web counts against the same caller: its server-streaming SendMessage is refused the same way.
        var webHandler = new GrpcWebHandler(GrpcWebMode.GrpcWeb, new GatewayStreamingTests.PathBaseHandler("/grpc", new SocketsHttpHandler()));
        using var webChannel = GrpcChannel.ForAddress(gateway.Http1Address, new GrpcChannelOptions
        {
            HttpHandler = webHandler,
            HttpVersion = HttpVersion.Version11,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });
        using var webCall = new ChatService.ChatServiceClient(webChannel).SendMessage(new ChatRequest { Message = "hi" }, grace);
        var webError = await Assert.ThrowsAsync<RpcException>(() => webCall.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.True(webError.StatusCode == StatusCode.ResourceExhausted, webError.ToString());
        Assert.Equal("3", webError.Trailers.GetValue("retry-after"));
        Assert.Contains(_refused.GetMeasurementSnapshot(), m => Equals(m.Tags[GatewayTelemetry.ProtocolTag], "grpc-web"));

        // Unary calls are not streams.
        var session = await client.CreateSessionAsync(new CreateSessionRequest(), grace).ResponseAsync.DefaultTimeout();
        Assert.True(session.Success);

        // The call ends: the next one is admitted and works.
        await first.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await first.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            try
            {
                using var next = await OpenChatAsync(client, grace);
                await next.RequestStream.CompleteAsync().DefaultTimeout();
                break;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }

        await second.RequestStream.CompleteAsync().DefaultTimeout();
    }

    public void Dispose() => _refused.Dispose();

    private HttpClient Client(string apiKey)
    {
        // No draining of an unread rest: a disposed response closes its connection at once, as a leaving browser does.
        var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0, ActivityHeadersPropagator = null })
        {
            BaseAddress = gateway.Http1Address,
            Timeout = Infrastructure.TaskExtensions.DefaultTimeoutSpan,
        };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return client;
    }

    private static async Task<HttpResponseMessage> OpenSseAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    private static async Task<HttpResponseMessage> EventuallyAdmittedAsync(Func<Task<HttpResponseMessage>> send)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var response = await send().DefaultTimeout();
            if (response.StatusCode != HttpStatusCode.TooManyRequests || DateTime.UtcNow > deadline)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                return response;
            }

            response.Dispose();
            await Task.Delay(50);
        }
    }

    private async Task<ClientWebSocket> ConnectWebSocketAsync()
    {
        var socket = WebSocketFor(StreamCapGatewayFixture.WebSocketCallerKey);
        await socket.ConnectAsync(WebSocketUri(), CancellationToken.None).DefaultTimeout();
        Assert.Equal(WebSocketState.Open, socket.State);
        return socket;
    }

    private static ClientWebSocket WebSocketFor(string apiKey)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("X-Api-Key", apiKey);
        return socket;
    }

    /// <summary>A bidirectional Chat call that is open end to end: one ping answered by a pong.</summary>
    private static async Task<AsyncDuplexStreamingCall<ChatRequest, ChatResponse>> OpenChatAsync(ChatService.ChatServiceClient client, Metadata headers)
    {
        var call = client.Chat(headers);
        try
        {
            await call.RequestStream.WriteAsync(new ChatRequest { Type = ChatRequest.Types.MessageType.Ping }).DefaultTimeout();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.Equal(ChatResponse.Types.ResponseType.Pong, call.ResponseStream.Current.Type);
            return call;
        }
        catch
        {
            call.Dispose();
            throw;
        }
    }

    private Uri WebSocketUri() => new($"ws://127.0.0.1:{gateway.Http1Port}/websocket/ws");
}
