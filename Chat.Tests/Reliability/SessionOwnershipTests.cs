using System.Net;
using Chat.Contracts.Llm.V1;
using Chat.Hosting;
using Chat.Hosting.Testing;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Reliability;

/// <summary>With API keys on at the gateway, a session belongs to the key that made it, on every HTTP transport.</summary>
[Collection(ReliabilityCollection.Name)]
public sealed class SessionOwnershipTests(ReliabilityFixture fixture)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task SessionOfKeyA_IsNotFoundForKeyB_OnEveryHttpTransport()
    {
        await _app.WaitForResourceHealthyAsync("gateway").DefaultTimeout();
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

            using var list = await bob.GetAsync($"{prefix}/sessions").DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            var sessions = (await list.ReadJsonObjectAsync())["sessions"]!.AsArray();
            Assert.DoesNotContain(sessions, s => s.Str("session_id") == sessionId);

            using var mine = await alice.GetAsync($"{prefix}/sessions/{sessionId}").DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
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

        var llm = fixture.Llm(out var channel);
        using (channel)
        {
            var history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId, Principal = "alice" }).ResponseAsync.DefaultTimeout();
            Assert.DoesNotContain(history.Messages, m => m.Text == "bob was here");
            Assert.Equal(secret, history.Messages[0].Text);
        }

        // Keys and message content never reach a log line of any process.
        var logs = fixture.AllConsoleLogs();
        Assert.DoesNotContain(ReliabilityFixture.AliceKey, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(ReliabilityFixture.BobKey, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(_app.GetInternalApiKey("llm")!, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
    }
}
