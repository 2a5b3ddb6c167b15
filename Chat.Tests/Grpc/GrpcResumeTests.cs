using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Core;
using ResponseType = Chat.Contracts.Public.ChatResponse.Types.ResponseType;
using RequestType = Chat.Contracts.Public.ChatRequest.Types.MessageType;

namespace Chat.Tests.Grpc;

/// <summary>
/// Resume by position and epoch (docs/resume.md: ChatRequest 10–11, ChatResponse 30–33) and the strict-session
/// metadata, on two replicas of Chat.Grpc.
/// </summary>
[Collection(BidiCollection.Name)]
public sealed class GrpcResumeTests(BidiFixture fixture)
{
    private static readonly Metadata Resumable = new() { { "chat-resumable", "true" } };

    [Fact]
    public async Task ResponsesOfAReplyCarryTheirPosition_AndAResumeByPositionAndEpoch_IsRecovered_ExactlyOnce_OnAnotherReplica()
    {
        await using var replicaA = await GrpcServiceHost.StartAsync(fixture.SlowLlm.Address, instance: "grpc-0");
        await using var replicaB = await GrpcServiceHost.StartAsync(fixture.SlowLlm.Address, instance: "grpc-1");
        var sessionId = (await replicaA.CreateClient().CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using var drop = new CancellationTokenSource();
        var first = new ChatStreamClient(replicaA.CreateClient(), Resumable, cancellationToken: drop.Token);
        await first.SendMessageAsync(sessionId, "Count my positions");
        var before = await first.ReadUntilAsync(ResponseType.Chunk);
        before.Add(await first.ReadResponseAsync());
        before.Add(await first.ReadResponseAsync());
        var start = before.Single(r => r.Type == ResponseType.ResponseStart);
        await drop.CancelAsync();
        first.Dispose();

        using var second = new ChatStreamClient(replicaB.CreateClient());
        await second.SendAsync(new ChatRequest { Type = RequestType.Resume, ReplyId = start.ReplyId, LastPosition = before[^1].Position, Epoch = start.Epoch });
        var after = await second.ReadUntilAsync(ResponseType.ResponseComplete);

        Assert.Equal(1, before[0].Position); // STATUS: the reply's acceptance
        Assert.Matches("^[0-9a-f]{12}$", start.Epoch);
        Assert.False(start.HasRecovered);
        var resumed = after[0];
        Assert.Equal(ResponseType.ResponseStart, resumed.Type);
        Assert.True(resumed.HasRecovered);
        Assert.True(resumed.Recovered);
        Assert.Equal("", resumed.ResumeReason);
        Assert.Equal(start.Epoch, resumed.Epoch);
        Assert.Equal(sessionId, resumed.SessionId);
        var chunks = before.Concat(after).Where(r => r.Type == ResponseType.Chunk).ToList();
        Assert.Equal(Enumerable.Range(2, chunks.Count).Select(p => (long)p), chunks.Select(c => c.Position));
        Assert.Equal(chunks.Select(c => c.ChunkNumber + 1L), chunks.Select(c => c.Position));
        Assert.Equal(chunks.Count + 2L, after[^1].Position);
        Assert.Equal(after[^1].FullResponse, string.Concat(chunks.Select(c => c.ChunkText)));
    }

    [Fact]
    public async Task Resume_WithAStaleEpoch_SaysNotRecoveredEpochChanged_ThenTheWholeReply()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using var chat = new ChatStreamClient(client);
        await chat.SendMessageAsync(sessionId, "Which buffer?");
        var original = await chat.ReadUntilAsync(ResponseType.ResponseComplete);

        await chat.SendAsync(new ChatRequest { Type = RequestType.Resume, ReplyId = original[0].ReplyId, LastPosition = 5, Epoch = "0123456789ab" });
        var replayed = await chat.ReadUntilAsync(ResponseType.ResponseComplete);

        Assert.False(replayed[0].Recovered);
        Assert.True(replayed[0].HasRecovered);
        Assert.Equal("epoch_changed", replayed[0].ResumeReason);
        Assert.Equal(
            original.Where(r => r.Type == ResponseType.Chunk).Select(r => (r.Position, r.ChunkText)),
            replayed.Where(r => r.Type == ResponseType.Chunk).Select(r => (r.Position, r.ChunkText)));
    }

    [Fact]
    public async Task Resume_OfAReplyWhoseBufferIsGone_IsAnErrorThatSaysNotRecoveredExpired_AndTheStreamGoesOn()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        using var chat = new ChatStreamClient(host.CreateClient());
        var replyId = Guid.NewGuid().ToString("N");

        await chat.SendAsync(new ChatRequest { Type = RequestType.Resume, ReplyId = replyId, LastPosition = 3, Epoch = "0123456789ab" });
        var error = await chat.ReadResponseAsync();
        await chat.SendAsync(new ChatRequest { Type = RequestType.Ping });
        var pong = await chat.ReadResponseAsync();

        Assert.Equal(ResponseType.Error, error.Type);
        Assert.Equal("Reply not found or expired", error.ErrorMessage);
        Assert.Equal("NOT_FOUND", error.ErrorCode);
        Assert.Equal(replyId, error.ReplyId);
        Assert.True(error.HasRecovered);
        Assert.False(error.Recovered);
        Assert.Equal("expired", error.ResumeReason);
        Assert.Equal(ResponseType.Pong, pong.Type);
    }

    [Theory]
    [InlineData("true")]
    [InlineData("1")]
    public async Task StrictSendMessage_OnAnUnknownSession_FailsWithNotFound_AndCreatesNothing(string flag)
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var before = await StatsAsync();

        var failure = await Assert.ThrowsAsync<RpcException>(() => SendAsync(host.CreateClient(), Guid.NewGuid().ToString(), "Only this one",
            new Metadata { { "x-chat-strict-session", flag } }));

        Assert.Equal(StatusCode.NotFound, failure.StatusCode);
        Assert.Equal("Session not found", failure.Status.Detail);
        var after = await StatsAsync();
        Assert.Equal(before.SessionsCreated, after.SessionsCreated);
    }

    [Fact]
    public async Task StrictSendMessage_OnAKnownSession_StreamsTheReply()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;

        var responses = await SendAsync(client, sessionId, "Hello", new Metadata { { "x-chat-strict-session", "true" } });

        Assert.Equal(ResponseType.ResponseComplete, responses[^1].Type);
        Assert.Equal(sessionId, responses[^1].SessionId);
    }

    [Fact]
    public async Task StrictChat_OnAnUnknownSession_KeepsTheOriginalsAnswer_AnErrorThenTheEndWithOk()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        using var chat = new ChatStreamClient(host.CreateClient(), new Metadata { { "x-chat-strict-session", "true" } });

        await chat.SendMessageAsync(Guid.NewGuid().ToString(), "Hello?");
        var error = await chat.ReadResponseAsync();
        var end = await chat.ReadAsync();

        Assert.Equal(ResponseType.Error, error.Type);
        Assert.Equal("Session not found", error.ErrorMessage);
        Assert.Equal("NOT_FOUND", error.ErrorCode);
        Assert.Null(end);
        Assert.Equal(StatusCode.OK, chat.Call.GetStatus().StatusCode);
    }

    private Task<ServerStats> StatsAsync() => fixture.Llm.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();

    private static async Task<List<ChatResponse>> SendAsync(ChatService.ChatServiceClient client, string sessionId, string message, Metadata headers)
    {
        using var call = client.SendMessage(new ChatRequest { Type = RequestType.Message, SessionId = sessionId, Message = message }, headers);
        var responses = new List<ChatResponse>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            responses.Add(call.ResponseStream.Current);
        }

        return responses;
    }
}
