extern alias sse;

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Chat.Tests.Sse;

[Collection(HttpTransportCollection.Name)]
public sealed class SseChatStreamTests(HttpTransportFixture fixture)
{
    [Fact]
    public async Task ChatStream_SendsTheOriginalEventsAsDataLines_WithEventNamesAndIds()
    {
        using var client = (await fixture.SseAsync()).CreateClient();

        var (response, frames) = await StreamAsync(client, "Hello SSE", sessionId: null);

        Assert.Equal("text/event-stream", response.ContentType()?.MediaType);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        Assert.Null(response.Content.Headers.ContentEncoding.FirstOrDefault());
        Assert.Equal(3000, frames[0].Retry);
        var events = frames.Where(f => f.Data is not null).ToList();

        // The original's objects, one per data: line, type matching the event name.
        Assert.All(events, e => Assert.Equal(e.Event, e.Json.Str("type")));
        Assert.Equal("session_info", events[0].Event);
        Assert.Equal("status", events[1].Event);
        Assert.Equal("complete", events[^1].Event);
        var chunks = events.Skip(2).SkipLast(1).ToList();
        Assert.All(chunks, c => Assert.Equal("chunk", c.Event));
        Assert.Equal(Enumerable.Range(1, chunks.Count), chunks.Select(c => (int)c.Json["chunk_number"]!));
        Assert.True((bool)chunks[^1].Json["is_final"]!);
        Assert.All(chunks.SkipLast(1), c => Assert.False((bool)c.Json["is_final"]!));
        Assert.Contains("You said: \"Hello SSE\"", string.Concat(chunks.Select(c => c.Json.Str("text"))));
        Assert.Equal(chunks.Count, (int)events[^1].Json["total_chunks"]!);
        Assert.Equal(events[0].Json.Str("session_id"), events[^1].Json.Str("session_id"));

        // Every event has its own id "<turn>:<sequence>[.<frame>]", unique and resumable.
        var turnId = events[0].Json.Str("turn_id");
        Assert.All(events, e => Assert.StartsWith(turnId + ":", e.Id));
        Assert.Equal(events.Count, events.Select(e => e.Id).Distinct().Count());
        // <turn>:<position>[.<frame>]@<epoch>: one epoch for the whole turn (docs/resume.md).
        var epoch = events[0].Id![(events[0].Id!.LastIndexOf('@') + 1)..];
        Assert.Matches("^[0-9a-f]{12}$", epoch);
        Assert.Equal($"{turnId}:1.1@{epoch}", events[0].Id);
        Assert.Equal($"{turnId}:1@{epoch}", events[1].Id);
        Assert.Equal($"{turnId}:2@{epoch}", chunks[0].Id);
        Assert.All(events, e => Assert.EndsWith("@" + epoch, e.Id));
    }

    [Fact]
    public async Task ChatStream_SendsEachDeltaAsItArrives_FirstChunkLongBeforeTheEnd()
    {
        using var client = (await fixture.PacedSseAsync()).CreateClient();

        var (_, frames) = await StreamAsync(client, "stream me", sessionId: null);

        var chunks = frames.Where(f => f.Event == "chunk").ToList();
        var first = chunks[0].ArrivedAfter;
        var last = frames[^1].ArrivedAfter;
        Assert.True(chunks.Count > 10);
        Assert.True(last - first > TimeSpan.FromMilliseconds(HttpTransportFixture.PacedInterTokenDelayMs * (chunks.Count - 3)),
            $"first chunk after {first.TotalMilliseconds} ms, complete after {last.TotalMilliseconds} ms");
        Assert.True(frames.First(f => f.Event == "session_info").ArrivedAfter < first);
    }

    [Fact]
    public async Task ChatStream_ThreeTurns_ThirdReplyQuotesTheFirstMessage_OnASessionStartedOverRest()
    {
        using var rest = (await fixture.RestAsync()).CreateClient();
        using var client = (await fixture.SseAsync()).CreateClient();
        using var restReply = await rest.PostAsJsonAsync("chat", new { message = "My name is Ada" }).DefaultTimeout();
        var sessionId = (await restReply.ReadJsonObjectAsync()).Str("session_id");

        await StreamAsync(client, "Two plus two?", sessionId);
        var (_, third) = await StreamAsync(client, "And my name?", sessionId);

        var events = third.Where(f => f.Data is not null).ToList();
        Assert.Equal(sessionId, events[0].Json.Str("session_id"));
        Assert.False((bool)events[0].Json["is_new_session"]!);
        var reply = string.Concat(events.Where(e => e.Event == "chunk").Select(e => e.Json.Str("text")));
        Assert.Contains("Turn 3", reply);
        Assert.Contains("Your first message was: \"My name is Ada\"", reply);
        Assert.Equal(6, (int)events[^1].Json["message_count"]!);
    }

    [Fact]
    public async Task ChatStream_SendsHeartbeatCommentsWhileTheModelIsSilent()
    {
        await using var host = await TransportHost<sse::Program>.StartAsync(fixture.PacedLlm.Address, "sse-heartbeat",
            new Dictionary<string, string?> { ["Sse:HeartbeatInterval"] = "00:00:00.080" });
        using var client = host.CreateClient();

        var (_, frames) = await StreamAsync(client, "think first", sessionId: null);

        // 300 ms before the first token: heartbeats fill the silence, and never split an event.
        var beforeFirstChunk = frames.TakeWhile(f => f.Event != "chunk").ToList();
        Assert.Contains(beforeFirstChunk, f => f.Comment == "keep-alive");
        Assert.All(frames.Where(f => f.Comment is not null), f => Assert.Null(f.Data));
        Assert.Equal("complete", frames.Last(f => f.Data is not null).Event);
    }

    [Theory]
    [InlineData("chat/stream")]
    [InlineData("chat/turns")]
    public async Task Chat_WithEmptyMessage_Returns400WithTheOriginalDetail(string path)
    {
        using var client = (await fixture.SseAsync()).CreateClient();

        using var response = await client.PostAsJsonAsync(path, new { message = "" }).DefaultTimeout();

        Assert.Equal("Message is required", await response.AssertProblemAsync(StatusCodes.Status400BadRequest));
    }

    [Fact]
    public async Task ChatStream_WithMalformedJsonOrOversizedMessage_Returns400()
    {
        using var client = (await fixture.SseAsync()).CreateClient();
        using var malformed = new StringContent("{\"message\"", System.Text.Encoding.UTF8, "application/json");

        using var first = await client.PostAsync("chat/stream", malformed).DefaultTimeout();
        using var second = await client.PostAsJsonAsync("chat/stream", new { message = new string('z', 40_000) }).DefaultTimeout();

        Assert.Equal("Malformed JSON body", await first.AssertProblemAsync(StatusCodes.Status400BadRequest));
        await second.AssertProblemAsync(StatusCodes.Status400BadRequest);
    }

    [Fact]
    public async Task ChatStream_WhileATurnRunsOnTheSession_Returns409()
    {
        using var client = (await fixture.PacedSseAsync()).CreateClient();
        using var started = await client.PostAsJsonAsync("chat/turns", new { message = "first" }).DefaultTimeout();
        var turn = await started.ReadJsonObjectAsync();

        using var refused = await client.PostAsJsonAsync("chat/stream", new { message = "second", session_id = turn.Str("session_id") }).DefaultTimeout();

        Assert.Contains("already running", await refused.AssertProblemAsync(StatusCodes.Status409Conflict));
    }

    [Fact]
    public async Task Chat_WithTheLlmServiceStopped_Returns503()
    {
        var llm = await LlmServiceHost.StartAsync(fixture.Redis.ConnectionString);
        await using var host = await TransportHost<sse::Program>.StartAsync(llm.Address, "sse-orphan");
        using var client = host.CreateClient();
        await llm.DisposeAsync();

        using var stream = await client.PostAsJsonAsync("chat/stream", new { message = "hello?" }).DefaultTimeout();
        using var turns = await client.PostAsJsonAsync("chat/turns", new { message = "hello?" }).DefaultTimeout();
        using var events = await client.GetAsync($"chat/turns/{Guid.NewGuid():N}/events").DefaultTimeout();

        await stream.AssertProblemAsync(StatusCodes.Status503ServiceUnavailable);
        await turns.AssertProblemAsync(StatusCodes.Status503ServiceUnavailable);
        await events.AssertProblemAsync(StatusCodes.Status503ServiceUnavailable);
    }

    [Fact]
    public async Task ChatStream_PastTheTurnDeadline_EndsWithAnErrorEvent()
    {
        await using var host = await TransportHost<sse::Program>.StartAsync(fixture.PacedLlm.Address, "sse-deadline",
            new Dictionary<string, string?> { ["Transport:TurnTimeout"] = "00:00:00.600" });
        using var client = host.CreateClient();

        var (_, frames) = await StreamAsync(client, "too slow", sessionId: null);

        var error = frames[^1];
        Assert.Equal("error", error.Event);
        Assert.Null(error.Id);
        Assert.Equal("DEADLINE_EXCEEDED", error.Json.Str("code"));
        Assert.DoesNotContain(frames, f => f.Event == "complete");
    }

    internal static async Task<(HttpResponseMessage Response, List<SseFrame> Frames)> StreamAsync(HttpClient client, string message, string? sessionId)
    {
        var started = Stopwatch.GetTimestamp();
        var response = await client.SendStreamingAsync(HttpStreams.PostJson("chat/stream", new { message, session_id = sessionId })).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response, await response.ReadSseAsync(started));
    }
}
