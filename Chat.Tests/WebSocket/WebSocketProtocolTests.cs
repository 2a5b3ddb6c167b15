using System.Net;
using System.Text.Json;
using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Grpc.Core;

namespace Chat.Tests.WebSocket;

[Collection(BidiCollection.Name)]
public sealed class WebSocketProtocolTests(BidiFixture fixture)
{
    [Fact]
    public async Task Connect_SendsConnected_AndPingIsAnsweredWithPong()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();

        var connected = await client.ReceiveMessageAsync();
        Assert.Equal("connected", connected.Type());
        var connectionId = connected.Str("connection_id");
        Assert.True(Guid.TryParse(connectionId, out _));
        Assert.False(string.IsNullOrEmpty(connected.Str("message")));
        var serverInfo = connected.GetProperty("server_info");
        Assert.Equal("offline-echo-1", serverInfo.Str("model"));
        Assert.False(string.IsNullOrEmpty(serverInfo.Str("framework")));
        Assert.NotEmpty(serverInfo.GetProperty("features").EnumerateArray());
        AssertTimestamp(connected);

        await client.SendAsync(new { type = "ping" });
        var pong = await client.ReceiveMessageAsync();
        Assert.Equal("pong", pong.Type());
        Assert.Equal(connectionId, pong.Str("connection_id"));
        AssertTimestamp(pong);
    }

    [Fact]
    public async Task Chat_WithoutSession_CreatesOneAndStreamsTheReplyInTheOriginalOrder()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        var connectionId = (await client.ReceiveMessageAsync()).Str("connection_id");

        await client.SendAsync(new { type = "chat", message = "Hello over WebSocket" });
        var messages = await client.ReceiveUntilAsync("response_complete");

        Assert.Equal(["session_created", "status", "response_start"], messages.Take(3).Select(m => m.Type()));
        var created = messages[0];
        var sessionId = created.Str("session_id");
        Assert.Equal(connectionId, created.Str("connection_id"));
        Assert.Equal("offline-echo-1", created.Str("model"));

        var status = messages[1];
        Assert.Equal("Generating response...", status.Str("message"));
        Assert.Equal(sessionId, status.Str("session_id"));
        Assert.Equal(0, status.Int("context_messages"));
        var replyId = status.Str("reply_id");

        var start = messages[2];
        Assert.Equal(sessionId, start.Str("session_id"));
        Assert.Equal(0, start.Int("total_length"));
        Assert.Equal(replyId, start.Str("reply_id"));

        var chunks = messages.Skip(3).SkipLast(1).ToList();
        Assert.True(chunks.Count > 5, $"expected word-sized chunks, got {chunks.Count}");
        Assert.All(chunks, chunk => Assert.Equal("chunk", chunk.Type()));
        Assert.Equal(Enumerable.Range(1, chunks.Count), chunks.Select(c => c.Int("chunk_number")));
        Assert.All(chunks, chunk => Assert.False(chunk.GetProperty("is_final").GetBoolean()));
        Assert.All(chunks, chunk => Assert.Equal(sessionId, chunk.Str("session_id")));

        var complete = messages[^1];
        Assert.Equal(chunks.Count, complete.Int("total_chunks"));
        Assert.Equal(2, complete.Int("message_count"));
        Assert.Equal(sessionId, complete.Str("session_id"));
        Assert.Equal(replyId, complete.Str("reply_id"));
        Assert.Equal("stop", complete.Str("finish_reason"));
        Assert.True(complete.GetProperty("processing_time").GetDouble() >= 0);
        var fullResponse = complete.Str("full_response");
        Assert.Equal(string.Concat(chunks.Select(c => c.Str("text"))), fullResponse);
        Assert.Contains("Hello over WebSocket", fullResponse, StringComparison.Ordinal);
        Assert.All(messages, AssertTimestamp);
    }

    [Fact]
    public async Task Chat_SecondMessageWithoutSessionId_ContinuesTheConnectionsSession()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        await client.SendAsync(new { type = "chat", message = "My name is Ada" });
        var first = await client.ReceiveUntilAsync("response_complete");
        await client.SendAsync(new { type = "chat", message = "What is my name?" });
        var second = await client.ReceiveUntilAsync("response_complete");

        Assert.DoesNotContain(second, m => m.Type() == "session_created");
        Assert.Equal(first[^1].Str("session_id"), second[^1].Str("session_id"));
        Assert.Equal(2, second.Single(m => m.Type() == "status").Int("context_messages"));
        Assert.Equal(4, second[^1].Int("message_count"));
        Assert.Contains("My name is Ada", second[^1].Str("full_response"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateSession_ThenJoinSession_AnswersWithTheSession()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var creator = await host.ConnectAsync();
        await using var joiner = await host.ConnectAsync();
        await creator.ReceiveMessageAsync();
        var joinerId = (await joiner.ReceiveMessageAsync()).Str("connection_id");

        await creator.SendAsync(new { type = "create_session" });
        var created = await creator.ReceiveMessageAsync();
        Assert.Equal("session_created", created.Type());
        var sessionId = created.Str("session_id");

        await joiner.SendAsync(new { type = "join_session", session_id = sessionId });
        var joined = await joiner.ReceiveMessageAsync();
        Assert.Equal("session_joined", joined.Type());
        Assert.Equal(sessionId, joined.Str("session_id"));
        Assert.Equal("offline-echo-1", joined.Str("model"));
        Assert.Equal(0, joined.Int("message_count"));
        Assert.Equal(joinerId, joined.Str("connection_id"));
    }

    [Theory]
    [InlineData("6d1f1e4e-0000-4000-8000-000000000000")]
    [InlineData("not-a-session")]
    public async Task JoinSession_Unknown_AnswersSessionNotFound(string sessionId)
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        await client.SendAsync(new { type = "join_session", session_id = sessionId });
        var error = await client.ReceiveMessageAsync();

        Assert.Equal("error", error.Type());
        Assert.Equal("Session not found", error.Str("message"));
        Assert.Equal(sessionId, error.Str("session_id"));
    }

    [Fact]
    public async Task MalformedJson_UnknownType_EmptyMessage_AreAnsweredWithErrors_AndTheConnectionStaysOpen()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        await client.SendTextAsync("{not json");
        var invalid = await client.ReceiveMessageAsync();
        Assert.Equal("error", invalid.Type());
        Assert.Equal("Invalid JSON format", invalid.Str("message"));

        await client.SendAsync(new { type = "dance" });
        var unknown = await client.ReceiveMessageAsync();
        Assert.Equal("Unknown message type: dance", unknown.Str("message"));

        await client.SendAsync(new { type = "chat", message = "   " });
        var empty = await client.ReceiveMessageAsync();
        Assert.Equal("Message is required", empty.Str("message"));
        Assert.Equal("INVALID_ARGUMENT", empty.Str("code"));

        await client.SendAsync(new { type = "ping" });
        Assert.Equal("pong", (await client.ReceiveMessageAsync()).Type());
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, client.Socket.State);
    }

    [Fact]
    public async Task SessionStartedThroughTheLlmService_ContinuesOverWebSocket()
    {
        var llm = fixture.Llm;
        var session = await llm.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        using (var call = llm.StreamTurn(new TurnRequest { SessionId = session.Id, Message = "Remember the word marmalade" }))
        {
            await foreach (var _ in call.ResponseStream.ReadAllAsync(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
            {
            }
        }

        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();
        await client.SendAsync(new { type = "chat", session_id = session.Id, message = "Which word?" });
        var messages = await client.ReceiveUntilAsync("response_complete");

        Assert.DoesNotContain(messages, m => m.Type() == "session_created");
        Assert.Equal(2, messages.Single(m => m.Type() == "status").Int("context_messages"));
        Assert.Equal(4, messages[^1].Int("message_count"));
        Assert.Contains("Remember the word marmalade", messages[^1].Str("full_response"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlainHttpRequestToTheSocketPath_IsRefusedWith400()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        using var http = new HttpClient { BaseAddress = host.HttpAddress };

        var response = await http.GetAsync("/ws").DefaultTimeout();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task SharedRoutes_HealthCountsOpenSockets_AndDemoAndSessionsAnswer()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        using var http = new HttpClient { BaseAddress = host.HttpAddress };
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();
        await client.SendAsync(new { type = "create_session" });
        var sessionId = (await client.ReceiveMessageAsync()).Str("session_id");

        using var health = JsonDocument.Parse(await http.GetStringAsync("/health").DefaultTimeout());
        Assert.Equal("healthy", health.RootElement.Str("status"));
        Assert.Equal(1, health.RootElement.Int("websocket_connections"));

        using var session = JsonDocument.Parse(await http.GetStringAsync($"/sessions/{sessionId}").DefaultTimeout());
        Assert.Equal(sessionId, session.RootElement.Str("session_id"));

        var demo = await http.GetAsync("/demo").DefaultTimeout();
        Assert.Equal("text/html", demo.Content.Headers.ContentType?.MediaType);
        Assert.Contains("new URL('ws', location.href)", await demo.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    internal static void AssertTimestamp(JsonElement message)
    {
        Assert.True(DateTimeOffset.TryParse(message.Str("timestamp"), System.Globalization.CultureInfo.InvariantCulture, out var at),
            $"{message.Type()} has no ISO-8601 timestamp");
        Assert.InRange(at, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
    }
}
