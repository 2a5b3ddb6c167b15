using System.Text.Json;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Core;
using ResponseType = Chat.Contracts.Public.ChatResponse.Types.ResponseType;
using RequestType = Chat.Contracts.Public.ChatRequest.Types.MessageType;

namespace Chat.Tests.Grpc;

[Collection(BidiCollection.Name)]
public sealed class ChatStreamTests(BidiFixture fixture)
{
    [Fact]
    public async Task Chat_ThreeTurnsOnOneStream_StreamChunks_AndTheThirdReplyQuotesTheFirstMessage()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using var chat = new ChatStreamClient(client);

        var turns = new List<List<ChatResponse>>();
        foreach (var message in new[] { "The password is swordfish", "Second message", "Third message" })
        {
            await chat.SendMessageAsync(sessionId, message);
            turns.Add(await chat.ReadUntilAsync(ResponseType.ResponseComplete));
        }

        for (var i = 0; i < turns.Count; i++)
        {
            var turn = turns[i];
            Assert.Equal(ResponseType.Status, turn[0].Type);
            Assert.Equal("Generating response...", turn[0].StatusMessage);
            Assert.Equal(i * 2 + 1, turn[0].ContextMessages); // the history plus the new message, as the original counted
            Assert.Equal(ResponseType.ResponseStart, turn[1].Type);
            var chunks = turn.Skip(2).SkipLast(1).ToList();
            Assert.All(chunks, c => Assert.Equal(ResponseType.Chunk, c.Type));
            Assert.Equal(Enumerable.Range(1, chunks.Count), chunks.Select(c => c.ChunkNumber));
            Assert.All(chunks, c => Assert.True(c.EmittedAt > 0));
            var complete = turn[^1];
            Assert.Equal(sessionId, complete.SessionId);
            Assert.Equal(chunks.Count, complete.TotalChunks);
            Assert.Equal((i + 1) * 2, complete.MessageCount);
            Assert.Equal(string.Concat(chunks.Select(c => c.ChunkText)), complete.FullResponse);
            Assert.False(string.IsNullOrEmpty(complete.ReplyId));
            Assert.All(turn, r => Assert.Equal(complete.ReplyId, r.ReplyId));
            // The original's string timestamp, Python isoformat() shape, whole seconds (docs/contracts.md).
            Assert.All(turn, r => Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$", r.Timestamp));
            Assert.All(turn, r => Assert.InRange(
                DateTimeOffset.Parse(r.Timestamp, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddSeconds(1)));
        }

        Assert.Contains("Turn 3", turns[2][^1].FullResponse, StringComparison.Ordinal);
        Assert.Contains("The password is swordfish", turns[2][^1].FullResponse, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_AsTheOriginalClientUsesIt_OneMessageThenHalfClose_EndsWithOk()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest { ModelId = "gemini-2.0-flash" }).ResponseAsync.DefaultTimeout()).SessionId;
        using var chat = new ChatStreamClient(client);

        await chat.SendMessageAsync(sessionId, "Hello from the Python client");
        await chat.CompleteAsync();
        var responses = await chat.ReadUntilAsync(ResponseType.ResponseComplete);

        Assert.Null(await chat.ReadAsync());
        Assert.Equal(StatusCode.OK, chat.Call.GetStatus().StatusCode);
        Assert.Equal([ResponseType.Status, ResponseType.ResponseStart], responses.Take(2).Select(r => r.Type));
        Assert.Contains("Hello from the Python client", responses[^1].FullResponse, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_Ping_IsAnsweredWithPong()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        using var chat = new ChatStreamClient(host.CreateClient());

        await chat.SendAsync(new ChatRequest { Type = RequestType.Ping });

        Assert.Equal(ResponseType.Pong, (await chat.ReadResponseAsync()).Type);
    }

    [Fact]
    public async Task Chat_MessageBeforeAnySession_IsAnsweredNoSessionEstablished()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        using var chat = new ChatStreamClient(host.CreateClient());

        await chat.SendAsync(new ChatRequest { Type = RequestType.Message, Message = "hello?" });
        var error = await chat.ReadResponseAsync();

        Assert.Equal(ResponseType.Error, error.Type);
        Assert.Equal("No session established", error.ErrorMessage);
        await chat.SendAsync(new ChatRequest { Type = RequestType.Ping });
        Assert.Equal(ResponseType.Pong, (await chat.ReadResponseAsync()).Type);
    }

    [Fact]
    public async Task Chat_OnAnUnknownSession_SendsSessionNotFound_AndEndsTheStream()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        using var chat = new ChatStreamClient(host.CreateClient());

        await chat.SendMessageAsync(Guid.NewGuid().ToString(), "anyone there?");
        var error = await chat.ReadResponseAsync();

        Assert.Equal(ResponseType.Error, error.Type);
        Assert.Equal("Session not found", error.ErrorMessage);
        Assert.Equal("NOT_FOUND", error.ErrorCode);
        Assert.Null(await chat.ReadAsync());
        Assert.Equal(StatusCode.OK, chat.Call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Chat_EmptyMessage_IsAnErrorInTheStream_AndTheStreamGoesOn()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using var chat = new ChatStreamClient(client);

        await chat.SendMessageAsync(sessionId, "  ");
        var error = await chat.ReadResponseAsync();
        Assert.Equal("Message is required", error.ErrorMessage);
        Assert.Equal("INVALID_ARGUMENT", error.ErrorCode);

        await chat.SendMessageAsync(sessionId, "now with words");
        Assert.Equal(ResponseType.ResponseComplete, (await chat.ReadUntilAsync(ResponseType.ResponseComplete))[^1].Type);
    }

    [Fact]
    public async Task Chat_OversizedRequest_FailsTheCallWithResourceExhausted()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address, new Dictionary<string, string?>
        {
            ["Grpc:MaxReceiveMessageBytes"] = "4096",
        });
        using var chat = new ChatStreamClient(host.CreateClient());

        await chat.SendMessageAsync(Guid.NewGuid().ToString(), new string('x', 10_000));

        var error = await Assert.ThrowsAsync<RpcException>(chat.ReadAsync);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task Chat_ClientCancellationMidStream_StopsTheModelCall()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.SlowLlm.Address);
        var client = host.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using var cancellation = new CancellationTokenSource();
        using var chat = new ChatStreamClient(client, cancellationToken: cancellation.Token);

        await chat.SendMessageAsync(sessionId, "Start a long answer");
        await chat.ReadUntilAsync(ResponseType.Chunk);
        await cancellation.CancelAsync();

        var error = await Assert.ThrowsAsync<RpcException>(chat.ReadAsync);
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        await AssertTurnStoppedAsync(sessionId);
    }

    [Fact]
    public async Task Chat_DeadlineExceeded_EndsTheCall_AndStopsTheModelCall()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.SlowLlm.Address);
        var client = host.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using var chat = new ChatStreamClient(client, deadline: DateTime.UtcNow.AddMilliseconds(700));

        await chat.SendMessageAsync(sessionId, "Take your time");
        var error = await Assert.ThrowsAsync<RpcException>(async () => await chat.ReadUntilAsync(ResponseType.ResponseComplete));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await AssertTurnStoppedAsync(sessionId);
    }

    [Fact]
    public async Task Chat_CancelMessage_StopsTheReplyInFlight()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.SlowLlm.Address);
        var client = host.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using var chat = new ChatStreamClient(client);

        await chat.SendMessageAsync(sessionId, "Long answer please");
        var started = await chat.ReadUntilAsync(ResponseType.Chunk);
        await chat.SendAsync(new ChatRequest { Type = RequestType.Cancel });
        var rest = await chat.ReadUntilAsync(ResponseType.Error);

        Assert.Equal("CANCELLED", rest[^1].ErrorCode);
        Assert.Equal(started[0].ReplyId, rest[^1].ReplyId);
        Assert.DoesNotContain(rest, r => r.Type == ResponseType.ResponseComplete);
        await AssertTurnStoppedAsync(sessionId);

        // The stream is still usable.
        await chat.SendAsync(new ChatRequest { Type = RequestType.Ping });
        Assert.Equal(ResponseType.Pong, (await chat.ReadResponseAsync()).Type);
    }

    [Fact]
    public async Task Chat_ResumableStream_DroppedMidReply_ResumesOnANewStreamOfAnotherReplica()
    {
        await using var replicaA = await GrpcServiceHost.StartAsync(fixture.SlowLlm.Address, instance: "grpc-0");
        await using var replicaB = await GrpcServiceHost.StartAsync(fixture.SlowLlm.Address, instance: "grpc-1");
        var sessionId = (await replicaA.CreateClient().CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        var resumable = new Metadata { { "chat-resumable", "true" } };
        using var cancellation = new CancellationTokenSource();
        var first = new ChatStreamClient(replicaA.CreateClient(), resumable, cancellationToken: cancellation.Token);
        await first.SendMessageAsync(sessionId, "Keep going without me");
        var before = await first.ReadUntilAsync(ResponseType.Chunk);
        before.Add(await first.ReadResponseAsync());
        var replyId = before[0].ReplyId;
        await cancellation.CancelAsync(); // the stream drops
        first.Dispose();

        using var second = new ChatStreamClient(replicaB.CreateClient());
        await second.SendAsync(new ChatRequest { Type = RequestType.Resume, ReplyId = replyId, LastChunkNumber = before[^1].ChunkNumber });
        var after = await second.ReadUntilAsync(ResponseType.ResponseComplete);

        Assert.Equal(ResponseType.ResponseStart, after[0].Type);
        var chunks = after.Where(r => r.Type == ResponseType.Chunk).ToList();
        Assert.Equal(before[^1].ChunkNumber + 1, chunks[0].ChunkNumber);
        var text = string.Concat(before.Concat(chunks).Where(r => r.Type == ResponseType.Chunk).Select(r => r.ChunkText));
        Assert.Equal(after[^1].FullResponse, text);
        Assert.Equal(2, after[^1].MessageCount);
    }

    [Fact]
    public async Task TwoStreamsOnTwoReplicas_SeeEachOthersTypingAndNewMessages()
    {
        await using var replicaA = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address, instance: "grpc-0");
        await using var replicaB = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address, instance: "grpc-1");
        var sessionId = (await replicaA.CreateClient().CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using var alice = new ChatStreamClient(replicaA.CreateClient());
        using var bob = new ChatStreamClient(replicaB.CreateClient());

        // A request naming the session attaches the stream to it; the PONG comes once it listens.
        await alice.SendAsync(new ChatRequest { Type = RequestType.Ping, SessionId = sessionId });
        await bob.SendAsync(new ChatRequest { Type = RequestType.Ping, SessionId = sessionId });
        Assert.Equal(ResponseType.Pong, (await alice.ReadResponseAsync()).Type);
        Assert.Equal(ResponseType.Pong, (await bob.ReadResponseAsync()).Type);

        await alice.SendAsync(new ChatRequest { Type = RequestType.TypingStart, SessionId = sessionId });
        var typing = await bob.ReadResponseAsync();
        Assert.Equal(ResponseType.SessionUpdate, typing.Type);
        Assert.Equal("user_typing", typing.UpdateType);
        Assert.Equal(sessionId, typing.SessionId);
        using (var data = JsonDocument.Parse(typing.UpdateData))
        {
            Assert.True(data.RootElement.GetProperty("typing").GetBoolean());
            Assert.False(string.IsNullOrEmpty(data.RootElement.GetProperty("connection_id").GetString()));
        }

        await alice.SendMessageAsync(sessionId, "Hello Bob");
        var reply = await alice.ReadUntilAsync(ResponseType.ResponseComplete);
        var added = await bob.ReadResponseAsync();
        Assert.Equal(ResponseType.SessionUpdate, added.Type);
        Assert.Equal("message_added", added.UpdateType);
        Assert.Equal(2, added.MessageCount);
        Assert.DoesNotContain(reply, r => r.Type == ResponseType.SessionUpdate);

        await bob.SendAsync(new ChatRequest { Type = RequestType.TypingStop, SessionId = sessionId });
        var bobTyping = await alice.ReadResponseAsync();
        Assert.Equal("user_typing", bobTyping.UpdateType);
        using var bobData = JsonDocument.Parse(bobTyping.UpdateData);
        Assert.False(bobData.RootElement.GetProperty("typing").GetBoolean());
    }

    [Fact]
    public async Task SessionStartedOverGrpc_ContinuesOverWebSocket()
    {
        await using var grpc = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        await using var websocket = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        var client = grpc.CreateClient();
        var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
        using (var chat = new ChatStreamClient(client))
        {
            await chat.SendMessageAsync(sessionId, "First said over gRPC");
            await chat.ReadUntilAsync(ResponseType.ResponseComplete);
        }

        await using var socket = await websocket.ConnectAsync();
        await socket.ReceiveMessageAsync();
        await socket.SendAsync(new { type = "chat", session_id = sessionId, message = "Then over WebSocket" });
        var messages = await socket.ReceiveUntilAsync("response_complete");

        Assert.Equal(4, messages[^1].Int("message_count"));
        Assert.Contains("First said over gRPC", messages[^1].Str("full_response"), StringComparison.Ordinal);
    }

    /// <summary>A stopped turn stores the user message and no reply (Chat.Llm.Service never appends a partial one).</summary>
    private async Task AssertTurnStoppedAsync(string sessionId)
    {
        var llm = fixture.Llm;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        GetHistoryResponse history;
        do
        {
            history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
            if (history.Messages.Count > 0)
            {
                break;
            }

            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);

        // Wait past the time the full reply would have taken: it must never appear.
        await Task.Delay(TimeSpan.FromMilliseconds(BidiFixture.SlowInterTokenDelayMs * 40));
        history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
        Assert.Equal(["user"], history.Messages.Select(m => m.Role));
    }
}
