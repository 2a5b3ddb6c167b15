using System.Diagnostics;
using System.Net;
using Chat.Contracts.Llm.V1;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Grpc.Core;
using Xunit.Abstractions;

namespace Chat.Tests.Reliability;

/// <summary>Processes killed mid-reply (real processes, SIGKILL through the AppHost), each ending with the stored history checked.</summary>
[Collection(ReliabilityCollection.Name)]
public sealed class FaultTests(ReliabilityFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task SseReplicaKilledMidReply_ResumedOnTheOtherReplica_GetsTheRestExactlyOnce()
    {
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("sse").DefaultTimeout();
        using var sse0 = _app.CreateHttpClient("sse", "http");
        using var sse1 = _app.CreateHttpClient("sse-1", "http");

        using var accepted = await sse0.PostAsync("/chat/turns", HttpStreams.PostJson("", new { message = "Tell me a long story" }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var body = await accepted.ReadJsonObjectAsync();
        var turnId = body.Str("turn_id")!;
        var sessionId = body.Str("session_id")!;

        // Read a few chunks from sse-0, then kill it while the model is still talking.
        var started = Stopwatch.GetTimestamp();
        List<SseFrame> firstPart;
        var chunksSeen = 0;
        using (var stream = await sse0.SendStreamingAsync(new HttpRequestMessage(HttpMethod.Get, $"/chat/turns/{turnId}/events")).DefaultTimeout())
        {
            firstPart = await stream.ReadSseAsync(started, frame => frame.Event == "chunk" && frame.Json.Str("text") is { Length: > 0 }
                && ++chunksSeen >= 5).DefaultTimeout();
            await _app.KillReplicaAsync("sse").DefaultTimeout();
        }

        var lastId = firstPart.Last(f => f.Id is not null).Id!;
        Assert.DoesNotContain(firstPart, f => f.Event is "complete" or "error");

        // The client reconnects through another replica with Last-Event-ID and gets the rest.
        var resume = new HttpRequestMessage(HttpMethod.Get, $"/chat/turns/{turnId}/events");
        resume.Headers.Add("Last-Event-ID", lastId);
        using var resumed = await sse1.SendStreamingAsync(resume).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        var secondPart = await resumed.ReadSseAsync(started).DefaultTimeout();
        Assert.Equal("complete", secondPart.Last(f => f.Event is not null).Event);

        var ids = firstPart.Concat(secondPart).Where(f => f.Id is not null).Select(f => f.Id).ToList();
        Assert.Equal(ids.Distinct().Count(), ids.Count); // no event twice
        var text = string.Concat(firstPart.Concat(secondPart).Where(f => f.Event == "chunk").Select(f => f.Json.Str("text")));

        // Stored once, whole, in order.
        var (llm, channel) = await fixture.LlmAsync();
        using (channel)
        {
            var history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
            Assert.Equal(new[] { "user", "model" }, history.Messages.Select(m => m.Role));
            Assert.Equal("Tell me a long story", history.Messages[0].Text);
            Assert.Equal(text, history.Messages[1].Text);
            Assert.All(history.Messages, m => Assert.Equal(turnId, m.TurnId));
        }

        await _app.ResourceNotifications.WaitForResourceHealthyAsync("sse").DefaultTimeout();
    }

    [Fact]
    public async Task LlmServiceKilledMidReply_ClientGetsAnErrorPromptly_HistoryStaysConsistent_AndTheNextTurnWorks()
    {
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("llm").DefaultTimeout();
        using var streaming = _app.CreateHttpClient("streaming", "http");
        var started = Stopwatch.GetTimestamp();
        using var response = await streaming.SendStreamingAsync(HttpStreams.PostJson("/chat/stream", new { message = "Count slowly" })).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var chunks = 0;
        long killedAt = 0;
        Task<int> kill = Task.FromResult(0);
        var lines = await response.ReadNdjsonAsync(started, line =>
        {
            if (line.Type == "chunk" && ++chunks == 5)
            {
                killedAt = Stopwatch.GetTimestamp();
                kill = _app.KillReplicaAsync("llm");
            }

            return false;
        }).WaitAsync(TimeSpan.FromSeconds(20));
        var killedPid = await kill.DefaultTimeout();

        // The stream ends promptly with the protocol's error event, not a hang and not a fake "complete".
        Assert.True(killedAt != 0, "the reply ended before the kill");
        Assert.True(Stopwatch.GetElapsedTime(killedAt) < TimeSpan.FromSeconds(10), $"ended {Stopwatch.GetElapsedTime(killedAt)} after the kill");
        Assert.Equal("error", lines[^1].Type);
        Assert.DoesNotContain(lines, l => l.Type == "complete");
        var sessionId = lines[0].Json.Str("session_id")!;

        // The restart policy brings it back on the same address.
        await _app.WaitForNewProcessAsync("llm", killedPid, TimeSpan.FromSeconds(60));

        var (llm, channel) = await fixture.LlmAsync();
        using (channel)
        {
            // No partial reply is ever stored (the crashed turn never reached CompleteTurn).
            var history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
            Assert.DoesNotContain(history.Messages, m => m.Role == "model");

            // The next turn on the same session works once the dead turn's lock has expired (TurnLockTimeout, 2 s here).
            using var rest = _app.CreateHttpClient("rest", "http");
            HttpResponseMessage next;
            var deadline = Stopwatch.GetTimestamp();
            while (true)
            {
                next = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "Are you back?", session_id = sessionId }).Content).DefaultTimeout();
                if (next.StatusCode != HttpStatusCode.Conflict || Stopwatch.GetElapsedTime(deadline) > TimeSpan.FromSeconds(10))
                {
                    break;
                }

                next.Dispose();
                await Task.Delay(250);
            }

            using (next)
            {
                Assert.Equal(HttpStatusCode.OK, next.StatusCode);
                Assert.Equal(sessionId, (await next.ReadJsonObjectAsync()).Str("session_id"));
            }

            history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
            Assert.Equal(new[] { "user", "model" }, history.Messages.TakeLast(2).Select(m => m.Role));
            Assert.Equal("Are you back?", history.Messages[^2].Text);
            Assert.Single(history.Messages, m => m.Role == "model");
        }
    }

    [Fact]
    public async Task LlmService_CalledWithoutTheInternalCredential_IsUnauthenticated()
    {
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("llm").DefaultTimeout();
        using var stranger = _app.CreateUnauthenticatedGrpcChannel("llm");
        var call = new LlmService.LlmServiceClient(stranger).CreateSessionAsync(new CreateSessionRequest());
        var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);

        var streamed = new LlmService.LlmServiceClient(stranger).StreamTurn(new TurnRequest { Message = "hi", CreateIfMissing = true });
        var refusedStream = await Assert.ThrowsAsync<RpcException>(() => streamed.ResponseStream.MoveNext().DefaultTimeout());
        Assert.Equal(StatusCode.Unauthenticated, refusedStream.StatusCode);

        // The key the AppHost generated for this run (a secret parameter) reaches llm and every transport, not the gateway.
        var key = await _app.GetInternalApiKeyAsync();
        Assert.True(key.Length >= 40, "a generated key of at least 40 characters");
        foreach (var resource in new[] { "llm", "rest", "streaming", "sse", "sse-1", "websocket", "grpc" })
        {
            Assert.Equal(key, _app.GetResourceSnapshots(resource).First(r => r.Name == resource).Environment["Llm__InternalApiKey"]);
        }

        Assert.DoesNotContain("Llm__InternalApiKey", _app.GetResourceSnapshots("gateway").Single().Environment.Keys);
        var (llm, channel) = await fixture.LlmAsync();
        using (channel)
        {
            Assert.NotEmpty((await llm.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout()).Id);
        }
    }
}

/// <summary>Redis stopped and started again under the running graph (AOF on, as the AppHost runs it).</summary>
[Collection(ReliabilityCollection.Name)]
public sealed class RedisRestartTests(ReliabilityFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task RedisRestarted_RequestsFailFastMeanwhile_ThenServicesReconnect_AndNoAcknowledgedTurnIsLost()
    {
        await _app.WaitForAllResourcesHealthyAsync().DefaultTimeout();
        using var rest = _app.CreateHttpClient("rest", "http");
        using var acknowledged = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "Remember this" }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, acknowledged.StatusCode);
        var sessionId = (await acknowledged.ReadJsonObjectAsync()).Str("session_id")!;

        const string redis = "redis";
        using var llmHealth = new HttpClient { BaseAddress = _app.GetEndpoint("llm", "http"), DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        try
        {
            Assert.True((await _app.ExecuteCommandAsync(redis, KnownResourceCommands.StopCommand).DefaultTimeout()).Success);
            await _app.ResourceNotifications.WaitForResourceAsync(redis, e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text)).DefaultTimeout();

            // Fail fast: 503 within the call budget, not a hang until some distant timeout.
            var started = Stopwatch.GetTimestamp();
            using var refused = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "Now?", session_id = sessionId }).Content).DefaultTimeout();
            Assert.Equal(503, (int)refused.StatusCode);
            Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(12), $"took {Stopwatch.GetElapsedTime(started)}");
            using var unhealthy = await llmHealth.GetAsync("/health").DefaultTimeout();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, unhealthy.StatusCode);
        }
        finally
        {
            await _app.ExecuteCommandAsync(redis, KnownResourceCommands.StartCommand).DefaultTimeout();
        }

        await _app.ResourceNotifications.WaitForResourceHealthyAsync(redis).DefaultTimeout();
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("llm").DefaultTimeout();
        using var healthy = await llmHealth.GetAsync("/health").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);

        // Reconnected by itself; the acknowledged turn is there once and the next one works.
        using var next = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "Back again", session_id = sessionId }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        var (llm, channel) = await fixture.LlmAsync();
        using (channel)
        {
            var history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
            Assert.Equal(new[] { "user", "model", "user", "model" }, history.Messages.Select(m => m.Role));
            Assert.Equal(new[] { "Remember this", "Back again" }, history.Messages.Where(m => m.Role == "user").Select(m => m.Text));
        }
    }
}
