using System.Net.WebSockets;
using Chat.Contracts.Public;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Grpc;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using Grpc.Reflection.V1Alpha;
using ResponseType = Chat.Contracts.Public.ChatResponse.Types.ResponseType;
using Xunit.Abstractions;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

/// <summary>Chat.WebSocket and Chat.Grpc as a client reaches them: through the gateway of the whole graph.</summary>
[Collection(AppHostCollection.Name)]
public sealed class BidiThroughGatewayTests(AppHostFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task WebSocket_ThroughTheGatewaysHttpPort_StreamsAReply()
    {
        var http = _app.GetEndpoint("gateway", "http");
        await using var client = await ChatSocket.ConnectAsync(new Uri($"ws://{http.Authority}/websocket/ws"));
        Assert.Equal("connected", (await client.ReceiveMessageAsync()).Type());

        await client.SendAsync(new { type = "chat", message = "Through the gateway" });
        var messages = await client.ReceiveUntilAsync("response_complete");

        Assert.Equal(["session_created", "status", "response_start", "chunk"], messages.Take(4).Select(m => m.Type()));
        Assert.Contains("Through the gateway", messages[^1].Str("full_response"), StringComparison.Ordinal);
        Assert.Equal(WebSocketState.Open, client.Socket.State);
    }

    [Fact]
    public async Task Grpc_ThroughTheGatewaysHttp2Port_ChatsAndAnswersReflection()
    {
        using var channel = GrpcChannel.ForAddress(_app.GetEndpoint("gateway", "http2"));
        var client = new ChatService.ChatServiceClient(channel);
        var sessionId = (await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;

        using var chat = new ChatStreamClient(client);
        await chat.SendMessageAsync(sessionId, "Native gRPC through YARP");
        await chat.CompleteAsync();
        var responses = await chat.ReadUntilAsync(ResponseType.ResponseComplete);
        Assert.Null(await chat.ReadAsync());
        Assert.Contains("Native gRPC through YARP", responses[^1].FullResponse, StringComparison.Ordinal);

        using var reflection = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" }).DefaultTimeout();
        await reflection.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.True(await reflection.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Contains("chat.ChatService", reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));
    }

    [Fact]
    public async Task GrpcWeb_ThroughTheGatewaysHttpPort_ServesTheUnaryRpcs()
    {
        using var channel = GrpcChannel.ForAddress(new Uri(_app.GetEndpoint("gateway", "http"), "/grpc/"), new GrpcChannelOptions
        {
            HttpHandler = new GrpcWebHandler(GrpcWebMode.GrpcWebText, new SocketsHttpHandler()),
            HttpVersion = System.Net.HttpVersion.Version11,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });
        var client = new ChatService.ChatServiceClient(channel);

        var created = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        var info = await client.GetSessionInfoAsync(new SessionInfoRequest { SessionId = created.SessionId }).ResponseAsync.DefaultTimeout();

        Assert.True(info.Success);
        Assert.Equal(created.SessionId, info.SessionId);
    }
}
