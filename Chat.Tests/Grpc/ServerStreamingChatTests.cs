using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Core;
using ResponseType = Chat.Contracts.Public.ChatResponse.Types.ResponseType;
using RequestType = Chat.Contracts.Public.ChatRequest.Types.MessageType;

namespace Chat.Tests.Grpc;

/// <summary>SendMessage and WatchSession: the two server-streaming halves of Chat that gRPC-Web (a browser) can call.</summary>
[Collection(BidiCollection.Name)]
public sealed class ServerStreamingChatTests(BidiFixture fixture)
{
    [Fact]
    public async Task SendMessage_OverGrpcWeb_StreamsOneReplyLikeChat_AndTheSecondReplySeesHistory()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateGrpcWebClient();
        var sessionId = (await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;

        var first = await SendAsync(client, sessionId, "The password is swordfish");
        var second = await SendAsync(client, sessionId, "What was it?");

        Assert.Equal([ResponseType.Status, ResponseType.ResponseStart], first.Take(2).Select(r => r.Type));
        Assert.All(first.Skip(2).SkipLast(1), r => Assert.Equal(ResponseType.Chunk, r.Type));
        Assert.True(first.Count > 3);
        Assert.Equal(ResponseType.ResponseComplete, first[^1].Type);
        Assert.Equal(string.Concat(first.Where(r => r.Type == ResponseType.Chunk).Select(r => r.ChunkText)), first[^1].FullResponse);
        Assert.Equal(2, first[^1].MessageCount);
        Assert.Equal(3, second[0].ContextMessages); // the history plus the new message, as the original counted
        Assert.Equal(4, second[^1].MessageCount);
        Assert.Contains("The password is swordfish", second[^1].FullResponse, StringComparison.Ordinal);
        Assert.DoesNotContain(first.Concat(second), r => r.Type == ResponseType.SessionUpdate);
    }

    [Fact]
    public async Task SendMessage_OnAnUnknownSession_StreamsSessionNotFound()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var responses = await SendAsync(host.CreateClient(), Guid.NewGuid().ToString(), "Hello");

        var error = Assert.Single(responses);
        Assert.Equal(ResponseType.Error, error.Type);
        Assert.Equal("Session not found", error.ErrorMessage);
        Assert.Equal("NOT_FOUND", error.ErrorCode);
    }

    [Fact]
    public async Task SendMessage_WithoutSessionOrOfAnotherType_IsInvalidArgument()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();

        var noSession = await Assert.ThrowsAsync<RpcException>(() => SendAsync(client, "", "Hello"));
        var ping = await Assert.ThrowsAsync<RpcException>(() => SendAsync(client, "abc", "", RequestType.Ping));

        Assert.Equal(StatusCode.InvalidArgument, noSession.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, ping.StatusCode);
    }

    [Fact]
    public async Task WatchSession_OverGrpcWeb_ReceivesTypingAndMessageAddedFromAnotherConnection()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using var watch = host.CreateGrpcWebClient().WatchSession(new SessionInfoRequest { SessionId = sessionId });
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        var subscribed = watch.ResponseStream.Current;

        using var other = new ChatStreamClient(client);
        await other.SendAsync(new ChatRequest { Type = RequestType.TypingStart, SessionId = sessionId });
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        var typing = watch.ResponseStream.Current;
        await SendAsync(client, sessionId, "Hello from the other tab");
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        var added = watch.ResponseStream.Current;

        Assert.Equal(ResponseType.Status, subscribed.Type);
        Assert.Equal("Watching session", subscribed.StatusMessage);
        Assert.Equal(ResponseType.SessionUpdate, typing.Type);
        Assert.Equal("user_typing", typing.UpdateType);
        Assert.Contains("\"typing\":true", typing.UpdateData, StringComparison.Ordinal);
        Assert.Equal(ResponseType.SessionUpdate, added.Type);
        Assert.Equal("message_added", added.UpdateType);
        Assert.Equal(2, added.MessageCount);
        Assert.Equal(sessionId, added.SessionId);
    }

    [Fact]
    public async Task WatchSession_OnAnUnknownSession_FailsWithNotFound()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        using var watch = host.CreateClient().WatchSession(new SessionInfoRequest { SessionId = Guid.NewGuid().ToString() });

        var failure = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());

        Assert.Equal(StatusCode.NotFound, failure.StatusCode);
    }

    private static async Task<List<ChatResponse>> SendAsync(
        ChatService.ChatServiceClient client, string sessionId, string message, RequestType type = RequestType.Message)
    {
        using var call = client.SendMessage(new ChatRequest { Type = type, SessionId = sessionId, Message = message });
        var responses = new List<ChatResponse>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            responses.Add(call.ResponseStream.Current);
        }

        return responses;
    }
}
