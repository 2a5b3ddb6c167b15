using System.Net;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Chat.Tests.WebSocket;
using Grpc.Core;
using Grpc.Net.Client;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Chat.Tests.Reliability;

/// <summary>With API keys on at the gateway, a session belongs to the key that made it, on every HTTP transport.</summary>
[Collection(ReliabilityCollection.Name)]
public sealed class SessionOwnershipTests(ReliabilityFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task SessionOfKeyA_IsNotFoundForKeyB_OnEveryHttpTransport()
    {
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("gateway").DefaultTimeout();
        using var alice = fixture.Gateway(ReliabilityFixture.AliceKey);
        using var bob = fixture.Gateway(ReliabilityFixture.BobKey);
        const string secret = "alice-private-marker-5c1e";

        using var created = await alice.PostAsync("/rest/chat", HttpStreams.PostJson("", new { message = secret }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var sessionId = (await created.ReadJsonObjectAsync()).Str("session_id")!;

        foreach (var prefix in new[] { "/rest", "/streaming", "/sse" })
        {
            using var info = await bob.GetAsync($"{prefix}/sessions/{sessionId}").DefaultTimeout();
            Assert.Equal("Session not found", await info.AssertProblemAsync(404));
            using var clear = await bob.PostAsync($"{prefix}/sessions/{sessionId}/clear", null).DefaultTimeout();
            await clear.AssertProblemAsync(404);
            using var delete = await bob.DeleteAsync($"{prefix}/sessions/{sessionId}").DefaultTimeout();
            await delete.AssertProblemAsync(404);
            using var history = await bob.GetAsync($"{prefix}/sessions/{sessionId}/history").DefaultTimeout();
            Assert.Equal("Session not found", await history.AssertProblemAsync(404));

            using var list = await bob.GetAsync($"{prefix}/sessions").DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            var sessions = (await list.ReadJsonObjectAsync())["sessions"]!.AsArray();
            Assert.DoesNotContain(sessions, s => s.Str("session_id") == sessionId);

            using var mine = await alice.GetAsync($"{prefix}/sessions/{sessionId}").DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
            using var myHistory = await alice.GetAsync($"{prefix}/sessions/{sessionId}/history").DefaultTimeout();
            Assert.Equal(secret, (await myHistory.ReadJsonObjectAsync())["messages"]![0].Str("text"));
        }

        // Bob's turn naming Alice's session never lands in it (get-or-create makes Bob his own, or refuses).
        using var hijack = await bob.PostAsync("/rest/chat", HttpStreams.PostJson("", new { message = "bob was here", session_id = sessionId }).Content).DefaultTimeout();
        if (hijack.StatusCode == HttpStatusCode.OK)
        {
            Assert.NotEqual(sessionId, (await hijack.ReadJsonObjectAsync()).Str("session_id"));
        }
        else
        {
            await hijack.AssertProblemAsync(404);
        }

        // A turn Bob did not start cannot be resumed by him either.
        using var turn = await alice.PostAsync("/sse/chat/turns", HttpStreams.PostJson("", new { message = "resumable", session_id = sessionId }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Accepted, turn.StatusCode);
        var turnId = (await turn.ReadJsonObjectAsync()).Str("turn_id")!;
        using var stolen = await bob.GetAsync($"/sse/chat/turns/{turnId}/events").DefaultTimeout();
        await stolen.AssertProblemAsync(404);
        using var ownResume = await alice.GetAsync($"/sse/chat/turns/{turnId}/events").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, ownResume.StatusCode);

        var (llm, channel) = await fixture.LlmAsync();
        using (channel)
        {
            var history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId, Principal = "alice" }).ResponseAsync.DefaultTimeout();
            Assert.DoesNotContain(history.Messages, m => m.Text == "bob was here");
            Assert.Equal(secret, history.Messages[0].Text);
        }

        // Keys and message content never reach a log line of any process.
        var logs = await fixture.AllConsoleLogsAsync();
        Assert.DoesNotContain(ReliabilityFixture.AliceKey, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(ReliabilityFixture.BobKey, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(await _app.GetInternalApiKeyAsync(), logs, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SessionOfKeyA_IsNotFoundForKeyB_OverWebSocketAndGrpc()
    {
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("gateway").DefaultTimeout();
        using var alice = fixture.Gateway(ReliabilityFixture.AliceKey);
        using var created = await alice.PostAsync("/rest/sessions/new", HttpStreams.PostJson("", new { }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var sessionId = (await created.ReadJsonObjectAsync()).Str("session_id")!;

        // WebSocket: join_session of another key's session is the original's not-found error; so is a chat naming it.
        var http = _app.GetEndpoint("gateway", "http");
        await using (var bob = await ChatSocket.ConnectAsync(new Uri($"ws://{http.Authority}/websocket/ws?api_key={ReliabilityFixture.BobKey}")))
        {
            Assert.Equal("connected", (await bob.ReceiveMessageAsync()).Type());
            await bob.SendAsync(new { type = "join_session", session_id = sessionId });
            var refused = await bob.ReceiveMessageAsync();
            Assert.Equal("error", refused.Type());
            Assert.Equal("Session not found", refused.Str("message"));
            await bob.SendAsync(new { type = "typing_start", session_id = sessionId });
        }

        await using (var owner = await ChatSocket.ConnectAsync(new Uri($"ws://{http.Authority}/websocket/ws?api_key={ReliabilityFixture.AliceKey}")))
        {
            Assert.Equal("connected", (await owner.ReceiveMessageAsync()).Type());
            await owner.SendAsync(new { type = "join_session", session_id = sessionId });
            Assert.Equal("session_joined", (await owner.ReceiveMessageAsync()).Type());
        }

        // gRPC through the gateway's h2c port, the key as metadata.
        using var channel = GrpcChannel.ForAddress(_app.GetEndpoint("gateway", "http2"));
        var grpc = new ChatService.ChatServiceClient(channel);
        var asBob = new Metadata { { "x-api-key", ReliabilityFixture.BobKey } };
        var info = await grpc.GetSessionInfoAsync(new SessionInfoRequest { SessionId = sessionId }, asBob).ResponseAsync.DefaultTimeout();
        Assert.False(info.Success);
        Assert.Equal("Session not found", info.Message);
        var list = await grpc.ListSessionsAsync(new Chat.Contracts.Public.ListSessionsRequest(), asBob).ResponseAsync.DefaultTimeout();
        Assert.DoesNotContain(list.Sessions, s => s.SessionId == sessionId);
        var delete = await grpc.DeleteSessionAsync(new Chat.Contracts.Public.DeleteSessionRequest { SessionId = sessionId }, asBob).ResponseAsync.DefaultTimeout();
        Assert.False(delete.Success);

        var asAlice = new Metadata { { "x-api-key", ReliabilityFixture.AliceKey } };
        Assert.True((await grpc.GetSessionInfoAsync(new SessionInfoRequest { SessionId = sessionId }, asAlice).ResponseAsync.DefaultTimeout()).Success);

        var (llm, llmChannel) = await fixture.LlmAsync();
        using (llmChannel)
        {
            var history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId, Principal = "alice" }).ResponseAsync.DefaultTimeout();
            Assert.Empty(history.Messages);
        }
    }
}
