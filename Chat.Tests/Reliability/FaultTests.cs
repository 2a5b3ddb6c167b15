using System.Diagnostics;
using System.Net;
using Chat.Contracts.Llm.V1;
using Chat.Hosting;
using Chat.Hosting.Orchestration;
using Chat.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Grpc.Core;

namespace Chat.Tests.Reliability;

/// <summary>Processes killed mid-reply (real processes, SIGKILL through the AppHost), each ending with the stored history checked.</summary>
[Collection(ReliabilityCollection.Name)]
public sealed class FaultTests(ReliabilityFixture fixture)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task SseReplicaKilledMidReply_ResumedOnTheOtherReplica_GetsTheRestExactlyOnce()
    {
        await _app.WaitForResourceHealthyAsync("sse").DefaultTimeout();
        using var sse0 = _app.CreateHttpClient("sse-0");
        using var sse1 = _app.CreateHttpClient("sse-1");

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
            await _app.KillReplicaAsync("sse-0").DefaultTimeout();
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
        var llm = fixture.Llm(out var channel);
        using (channel)
        {
            var history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
            Assert.Equal(new[] { "user", "model" }, history.Messages.Select(m => m.Role));
            Assert.Equal("Tell me a long story", history.Messages[0].Text);
            Assert.Equal(text, history.Messages[1].Text);
            Assert.All(history.Messages, m => Assert.Equal(turnId, m.TurnId));
        }

        await _app.WaitForResourceHealthyAsync("sse-0").DefaultTimeout();
    }

    [Fact]
    public async Task LlmServiceKilledMidReply_ClientGetsAnErrorPromptly_HistoryStaysConsistent_AndTheNextTurnWorks()
    {
        await _app.WaitForResourceHealthyAsync("llm").DefaultTimeout();
        using var streaming = _app.CreateHttpClient("streaming");
        var started = Stopwatch.GetTimestamp();
        using var response = await streaming.SendStreamingAsync(HttpStreams.PostJson("/chat/stream", new { message = "Count slowly" })).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var chunks = 0;
        long killedAt = 0;
        Task kill = Task.CompletedTask;
        var lines = await response.ReadNdjsonAsync(started, line =>
        {
            if (line.Type == "chunk" && ++chunks == 5)
            {
                killedAt = Stopwatch.GetTimestamp();
                kill = _app.KillReplicaAsync("llm-0");
            }

            return false;
        }).WaitAsync(TimeSpan.FromSeconds(20));
        await kill.DefaultTimeout();

        // The stream ends promptly with the protocol's error event, not a hang and not a fake "complete".
        Assert.True(killedAt != 0, "the reply ended before the kill");
        Assert.True(Stopwatch.GetElapsedTime(killedAt) < TimeSpan.FromSeconds(10), $"ended {Stopwatch.GetElapsedTime(killedAt)} after the kill");
        Assert.Equal("error", lines[^1].Type);
        Assert.DoesNotContain(lines, l => l.Type == "complete");
        var sessionId = lines[0].Json.Str("session_id")!;

        // The supervisor restarts it on the same address.
        await _app.ResourceNotifications.WaitForResourceAsync("llm-0", r => r[0].RestartCount >= 1).DefaultTimeout();
        await _app.WaitForResourceHealthyAsync("llm-0").DefaultTimeout();

        var llm = fixture.Llm(out var channel);
        using (channel)
        {
            // No partial reply is ever stored (the crashed turn never reached CompleteTurn).
            var history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
            Assert.DoesNotContain(history.Messages, m => m.Role == "model");

            // The next turn on the same session works once the dead turn's lock has expired (TurnLockTimeout, 2 s here).
            using var rest = _app.CreateHttpClient("rest");
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
        await _app.WaitForResourceHealthyAsync("llm").DefaultTimeout();
        using var stranger = _app.CreateUnauthenticatedGrpcChannel("llm-0");
        var call = new LlmService.LlmServiceClient(stranger).CreateSessionAsync(new CreateSessionRequest());
        var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);

        var streamed = new LlmService.LlmServiceClient(stranger).StreamTurn(new TurnRequest { Message = "hi", CreateIfMissing = true });
        var refusedStream = await Assert.ThrowsAsync<RpcException>(() => streamed.ResponseStream.MoveNext().DefaultTimeout());
        Assert.Equal(StatusCode.Unauthenticated, refusedStream.StatusCode);

        // The key the AppHost generated for this run reaches llm and every transport, shown redacted.
        var key = _app.GetInternalApiKey("llm");
        Assert.False(string.IsNullOrEmpty(key));
        foreach (var resource in new[] { "llm", "rest", "streaming", "sse", "websocket", "grpc" })
        {
            Assert.Equal(key, _app.GetInternalApiKey(resource));
            var shown = _app.GetResourceSnapshots(resource)[0].Environment["Llm__InternalApiKey"];
            Assert.NotEqual(key, shown);
        }

        Assert.Null(_app.GetInternalApiKey("gateway"));
        var llm = fixture.Llm(out var channel);
        using (channel)
        {
            Assert.NotEmpty((await llm.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout()).Id);
        }
    }
}

/// <summary>Redis stopped and started again under the running graph (AOF on, as the AppHost runs it).</summary>
[Collection(ReliabilityCollection.Name)]
public sealed class RedisRestartTests(ReliabilityFixture fixture)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task RedisRestarted_RequestsFailFastMeanwhile_ThenServicesReconnect_AndNoAcknowledgedTurnIsLost()
    {
        await _app.WaitForAllResourcesHealthyAsync().DefaultTimeout();
        using var rest = _app.CreateHttpClient("rest");
        using var acknowledged = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "Remember this" }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, acknowledged.StatusCode);
        var sessionId = (await acknowledged.ReadJsonObjectAsync()).Str("session_id")!;

        var redis = _app.GetResourceSnapshots("redis").Single().Name;
        using var llmHealth = new HttpClient { BaseAddress = _app.GetEndpoint("llm-0"), DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        try
        {
            Assert.True(await _app.Resources.ExecuteCommandAsync(redis, "stop", CancellationToken.None).DefaultTimeout());
            await _app.ResourceNotifications.WaitForResourceAsync(redis, r => r[0].State == ReplicaStates.Stopped).DefaultTimeout();

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
            await _app.Resources.ExecuteCommandAsync(redis, "start", CancellationToken.None).DefaultTimeout();
        }

        await _app.WaitForResourceHealthyAsync(redis).DefaultTimeout();
        await _app.WaitForResourceHealthyAsync("llm").DefaultTimeout();
        using var healthy = await llmHealth.GetAsync("/health").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);

        // Reconnected by itself; the acknowledged turn is there once and the next one works.
        using var next = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "Back again", session_id = sessionId }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        var llm = fixture.Llm(out var channel);
        using (channel)
        {
            var history = await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
            Assert.Equal(new[] { "user", "model", "user", "model" }, history.Messages.Select(m => m.Role));
            Assert.Equal(new[] { "Remember this", "Back again" }, history.Messages.Where(m => m.Role == "user").Select(m => m.Text));
        }
    }
}
