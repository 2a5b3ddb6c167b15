using System.Text.Json;
using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.WebSocket;

/// <summary>
/// Resume by position and epoch (docs/resume.md) and the strict-session flag, on the wire: JSON keys added to the
/// original's messages, on two replicas of Chat.WebSocket.
/// </summary>
[Collection(BidiCollection.Name)]
public sealed class WebSocketResumeTests(BidiFixture fixture)
{
    [Fact]
    public async Task EventsOfAReplyCarryTheirPosition_AndAResumeByPositionAndEpoch_IsRecovered_ExactlyOnce_OnAnotherReplica()
    {
        await using var replicaA = await WebSocketHost.StartAsync(fixture.SlowLlm.Address, instance: "websocket-0");
        await using var replicaB = await WebSocketHost.StartAsync(fixture.SlowLlm.Address, instance: "websocket-1");
        var first = await replicaA.ConnectAsync();
        await first.ReceiveMessageAsync();
        await first.SendAsync(new { type = "chat", message = "Count my positions" });
        var before = new List<JsonElement>();
        while (before.Count(m => m.Type() == "chunk") < 3)
        {
            before.Add(await first.ReceiveMessageAsync());
        }

        var status = before.Single(m => m.Type() == "status");
        var start = before.Single(m => m.Type() == "response_start");
        var epoch = start.Str("epoch");
        var last = before[^1];
        first.Socket.Abort();
        await first.DisposeAsync();

        await using var second = await replicaB.ConnectAsync();
        await second.ReceiveMessageAsync();
        await second.SendAsync(new { type = "resume", reply_id = start.Str("reply_id"), last_position = last.GetProperty("position").GetInt64(), epoch });
        var after = await second.ReceiveUntilAsync("response_complete");

        Assert.Equal(1, status.GetProperty("position").GetInt64());
        Assert.Matches("^[0-9a-f]{12}$", epoch);
        Assert.False(start.TryGetProperty("recovered", out _));
        var resumed = after[0];
        Assert.Equal("response_start", resumed.Type());
        Assert.True(resumed.GetProperty("resumed").GetBoolean());
        Assert.True(resumed.GetProperty("recovered").GetBoolean());
        Assert.False(resumed.TryGetProperty("reason", out _));
        Assert.Equal(epoch, resumed.Str("epoch"));
        var chunks = before.Where(m => m.Type() == "chunk").Concat(after.Where(m => m.Type() == "chunk")).ToList();
        Assert.Equal(Enumerable.Range(2, chunks.Count).Select(p => (long)p), chunks.Select(c => c.GetProperty("position").GetInt64()));
        Assert.Equal(chunks.Select(c => c.Int("chunk_number") + 1L), chunks.Select(c => c.GetProperty("position").GetInt64()));
        var complete = after[^1];
        Assert.Equal(chunks.Count + 2L, complete.GetProperty("position").GetInt64());
        Assert.Equal(complete.Str("full_response"), string.Concat(chunks.Select(c => c.Str("text"))));
    }

    [Fact]
    public async Task Resume_WithAStaleEpoch_SaysNotRecoveredEpochChanged_ThenTheWholeReply()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();
        await client.SendAsync(new { type = "chat", message = "Which buffer?" });
        var original = await client.ReceiveUntilAsync("response_complete");
        var replyId = original.Single(m => m.Type() == "response_start").Str("reply_id");

        await client.SendAsync(new { type = "resume", reply_id = replyId, last_position = 5, epoch = "0123456789ab" });
        var replayed = await client.ReceiveUntilAsync("response_complete");

        Assert.False(replayed[0].GetProperty("recovered").GetBoolean());
        Assert.Equal("epoch_changed", replayed[0].Str("reason"));
        Assert.Equal(
            original.Where(m => m.Type() == "chunk").Select(m => m.Str("text")),
            replayed.Where(m => m.Type() == "chunk").Select(m => m.Str("text")));
    }

    [Fact]
    public async Task Resume_OfAReplyWhoseBufferIsGone_IsAnErrorThatSaysNotRecoveredExpired()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();
        var replyId = Guid.NewGuid().ToString("N");

        await client.SendAsync(new { type = "resume", reply_id = replyId, last_position = 7, epoch = "0123456789ab" });
        var error = await client.ReceiveMessageAsync();

        Assert.Equal("error", error.Type());
        Assert.Equal("Reply not found or expired", error.Str("message"));
        Assert.Equal("NOT_FOUND", error.Str("code"));
        Assert.Equal(replyId, error.Str("reply_id"));
        Assert.False(error.GetProperty("recovered").GetBoolean());
        Assert.Equal("expired", error.Str("reason"));
    }

    public static TheoryData<string, string?, string> StrictConnections => new()
    {
        { "header true", "true", "" },
        { "header 1", "1", "" },
        { "query", null, "?strict_session=true" },
    };

    [Theory]
    [MemberData(nameof(StrictConnections))]
    public async Task StrictConnection_ChatOnAnUnknownSession_IsRefused_AndNothingIsCreated(string name, string? header, string query)
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        var before = await StatsAsync();
        var headers = header is null ? null : new Dictionary<string, string> { ["X-Chat-Strict-Session"] = header };
        await using var client = await ChatSocket.ConnectAsync(new Uri(host.WebSocketAddress + query), headers: headers);
        await client.ReceiveMessageAsync();
        var unknown = Guid.NewGuid().ToString();

        await client.SendAsync(new { type = "chat", message = "Only in my session", session_id = unknown });
        var error = await client.ReceiveMessageAsync();
        // The connection stays, and a message with no session still starts one.
        await client.SendAsync(new { type = "chat", message = "A new one is fine" });
        var fresh = await client.ReceiveUntilAsync("response_complete");

        Assert.Equal("error", error.Type());
        Assert.Equal("Session not found", error.Str("message"));
        Assert.Equal(unknown, error.Str("session_id"));
        Assert.Equal("session_not_found", error.Str("code"));
        Assert.Equal("session_created", fresh[0].Type());
        Assert.NotEqual(unknown, fresh[0].Str("session_id"));
        var after = await StatsAsync();
        Assert.True(after.SessionsCreated == before.SessionsCreated + 1, name);
        Assert.Equal(before.TotalTurns + 1, after.TotalTurns);
    }

    [Fact]
    public async Task WithoutTheFlag_ChatOnAnUnknownSession_StartsANewOne_AsTheOriginal()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await ChatSocket.ConnectAsync(new Uri(host.WebSocketAddress + "?strict_session=false"),
            headers: new Dictionary<string, string> { ["X-Chat-Strict-Session"] = "no" });
        await client.ReceiveMessageAsync();
        var unknown = Guid.NewGuid().ToString();

        await client.SendAsync(new { type = "chat", message = "Get or create", session_id = unknown });
        var messages = await client.ReceiveUntilAsync("response_complete");

        Assert.Equal("session_created", messages[0].Type());
        Assert.NotEqual(unknown, messages[0].Str("session_id"));
    }

    private Task<ServerStats> StatsAsync() => fixture.Llm.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
}
