using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.WebSocket;

/// <summary>Fan-out across replicas, cancel and resume: the parts that cross connections and processes.</summary>
[Collection(BidiCollection.Name)]
public sealed class WebSocketSessionTests(BidiFixture fixture)
{
    [Fact]
    public async Task TwoClientsOnTwoReplicas_SeeEachOthersTypingAndNewMessages()
    {
        await using var replicaA = await WebSocketHost.StartAsync(fixture.FastLlm.Address, instance: "websocket-0");
        await using var replicaB = await WebSocketHost.StartAsync(fixture.FastLlm.Address, instance: "websocket-1");
        await using var alice = await replicaA.ConnectAsync();
        await using var bob = await replicaB.ConnectAsync();
        var aliceId = (await alice.ReceiveMessageAsync()).Str("connection_id");
        var bobId = (await bob.ReceiveMessageAsync()).Str("connection_id");

        await alice.SendAsync(new { type = "create_session" });
        var sessionId = (await alice.ReceiveMessageAsync()).Str("session_id");
        await bob.SendAsync(new { type = "join_session", session_id = sessionId });
        Assert.Equal("session_joined", (await bob.ReceiveMessageAsync()).Type());

        await alice.SendAsync(new { type = "typing_start" });
        var typing = await bob.ReceiveMessageAsync();
        Assert.Equal("session_update", typing.Type());
        Assert.Equal("user_typing", typing.Str("update_type"));
        Assert.Equal(sessionId, typing.Str("session_id"));
        Assert.Equal(aliceId, typing.Str("connection_id"));
        Assert.True(typing.GetProperty("typing").GetBoolean());

        await alice.SendAsync(new { type = "typing_stop" });
        var stopped = await bob.ReceiveMessageAsync();
        Assert.False(stopped.GetProperty("typing").GetBoolean());

        await alice.SendAsync(new { type = "chat", message = "News for everyone" });
        var reply = await alice.ReceiveUntilAsync("response_complete");
        var added = await bob.ReceiveMessageAsync();
        Assert.Equal("session_update", added.Type());
        Assert.Equal("message_added", added.Str("update_type"));
        Assert.Equal(sessionId, added.Str("session_id"));
        Assert.Equal(2, added.Int("message_count"));
        Assert.Equal("News for everyone", added.Str("last_message_preview")); // the user's message, as the original's
        Assert.Contains("News for everyone", reply[^1].Str("full_response"), StringComparison.Ordinal);

        // Bob's typing reaches Alice, and nothing reached her before it: not her own typing, not her own reply's update.
        await bob.SendAsync(new { type = "typing_start" });
        var bobTyping = await alice.ReceiveMessageAsync();
        Assert.Equal("user_typing", bobTyping.Str("update_type"));
        Assert.Equal(bobId, bobTyping.Str("connection_id"));
    }

    [Fact]
    public async Task Cancel_StopsTheReplyInFlight_AndTheModelCall()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.SlowLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        await client.SendAsync(new { type = "chat", message = "Tell me a long story" });
        var started = await client.ReceiveUntilAsync("chunk");
        var sessionId = started[0].Str("session_id");
        var replyId = started.Single(m => m.Type() == "response_start").Str("reply_id");

        await client.SendAsync(new { type = "cancel" });
        var rest = await client.ReceiveUntilAsync("response_cancelled");

        var cancelled = rest[^1];
        Assert.Equal(replyId, cancelled.Str("reply_id"));
        Assert.Equal(sessionId, cancelled.Str("session_id"));
        Assert.DoesNotContain(rest, m => m.Type() == "response_complete");
        Assert.True(cancelled.Int("total_chunks") < 20, "the reply should have stopped early");

        // The model call stopped: the session keeps the user message and no reply.
        var history = await fixture.Llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
        Assert.Equal(["user"], history.Messages.Select(m => m.Role));
    }

    [Fact]
    public async Task Cancel_WithNothingInFlight_AnswersAnError()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        await client.SendAsync(new { type = "cancel" });
        var error = await client.ReceiveMessageAsync();

        Assert.Equal("error", error.Type());
        Assert.Equal("No reply in progress", error.Str("message"));
    }

    [Fact]
    public async Task Resume_AfterADroppedConnection_ContinuesTheReplyOnAnotherReplica()
    {
        await using var replicaA = await WebSocketHost.StartAsync(fixture.SlowLlm.Address, instance: "websocket-0");
        await using var replicaB = await WebSocketHost.StartAsync(fixture.SlowLlm.Address, instance: "websocket-1");
        var first = await replicaA.ConnectAsync();
        await first.ReceiveMessageAsync();
        await first.SendAsync(new { type = "chat", message = "Please survive a reconnect" });
        var received = new List<System.Text.Json.JsonElement>();
        while (received.Count(m => m.Type() == "chunk") < 3)
        {
            received.Add(await first.ReceiveMessageAsync());
        }

        var replyId = received.Single(m => m.Type() == "response_start").Str("reply_id");
        var sessionId = received.Single(m => m.Type() == "status").Str("session_id");
        first.Socket.Abort(); // the network drops: no close handshake
        await first.DisposeAsync();

        await using var second = await replicaB.ConnectAsync();
        await second.ReceiveMessageAsync();
        await second.SendAsync(new { type = "resume", reply_id = replyId, last_chunk_number = 3 });
        var resumed = await second.ReceiveUntilAsync("response_complete");

        var start = resumed[0];
        Assert.Equal("response_start", start.Type());
        Assert.True(start.GetProperty("resumed").GetBoolean());
        Assert.Equal(replyId, start.Str("reply_id"));
        var chunks = resumed.Where(m => m.Type() == "chunk").ToList();
        Assert.Equal(4, chunks[0].Int("chunk_number"));
        Assert.Equal(Enumerable.Range(4, chunks.Count), chunks.Select(c => c.Int("chunk_number")));
        var complete = resumed[^1];
        Assert.Equal(sessionId, complete.Str("session_id"));
        var text = string.Concat(received.Where(m => m.Type() == "chunk").Concat(chunks).Select(c => c.Str("text")));
        Assert.Equal(complete.Str("full_response"), text);
        Assert.Equal(3 + chunks.Count, complete.Int("total_chunks"));
    }

    [Fact]
    public async Task Resume_UnknownReply_AnswersAnError()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        await client.SendAsync(new { type = "resume", reply_id = Guid.NewGuid().ToString("N"), last_chunk_number = 2 });
        var error = await client.ReceiveMessageAsync();

        Assert.Equal("error", error.Type());
        Assert.Equal("Reply not found or expired", error.Str("message"));
        Assert.Equal("NOT_FOUND", error.Str("code"));
    }
}
