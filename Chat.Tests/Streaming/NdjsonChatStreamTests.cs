extern alias streaming;

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Diagnostics.Metrics;
using Chat.Tests.Infrastructure;
using Chat.Transports.Shared.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.AspNetCore.Http;

namespace Chat.Tests.Streaming;

[Collection(HttpTransportCollection.Name)]
public sealed class NdjsonChatStreamTests(HttpTransportFixture fixture)
{
    [Fact]
    public async Task ChatStream_WritesTheOriginalLinesInOrder_WithUsageOnComplete()
    {
        using var client = (await fixture.StreamingAsync()).CreateClient();

        var (response, lines) = await StreamAsync(client, "Hello NDJSON", sessionId: null);

        Assert.Equal("application/x-ndjson", response.ContentType()?.MediaType);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        Assert.Null(response.Content.Headers.ContentEncoding.FirstOrDefault());
        Assert.Equal("session_info", lines[0].Type);
        Assert.Equal("status", lines[1].Type);
        Assert.Equal("complete", lines[^1].Type);
        var chunks = lines.Skip(2).SkipLast(1).ToList();
        Assert.All(chunks, c => Assert.Equal("chunk", c.Type));
        Assert.True(chunks.Count > 3);

        var sessionId = lines[0].Json.Str("session_id");
        Assert.Equal("offline-echo-1", lines[0].Json.Str("model"));
        Assert.True((bool)lines[0].Json["is_new_session"]!);
        Assert.Equal("Generating response...", lines[1].Json.Str("message"));
        Assert.Equal(1, (int)lines[1].Json["context_messages"]!);
        Assert.All(lines, l => Assert.NotNull(l.Json["timestamp"]));

        // Every delta at once with is_final=false; then an empty final marker (see NdjsonTurnStream).
        Assert.Equal(Enumerable.Range(1, chunks.Count), chunks.Select(c => (int)c.Json["chunk_number"]!));
        Assert.All(chunks.SkipLast(1), c => Assert.False((bool)c.Json["is_final"]!));
        Assert.True((bool)chunks[^1].Json["is_final"]!);
        Assert.Equal("", chunks[^1].Json.Str("text"));
        var text = string.Concat(chunks.Select(c => c.Json.Str("text")));
        Assert.Contains("You said: \"Hello NDJSON\"", text);

        var complete = lines[^1].Json;
        Assert.Equal(chunks.Count, (int)complete["total_chunks"]!);
        Assert.Equal(2, (int)complete["message_count"]!);
        Assert.Equal(sessionId, complete.Str("session_id"));
        Assert.True((double)complete["processing_time"]! >= 0);
        Assert.Equal(chunks.Count - 1, (int)complete["usage"]!["output_tokens"]!);
        Assert.NotNull(complete["timings"]!["time_to_first_token"]);
    }

    [Fact]
    public async Task ChatStream_ThreeTurns_ThirdReplyQuotesTheFirstMessage()
    {
        using var client = (await fixture.StreamingAsync()).CreateClient();

        var (_, first) = await StreamAsync(client, "My name is Ada", sessionId: null);
        var sessionId = first[0].Json.Str("session_id");
        var (_, second) = await StreamAsync(client, "Two plus two?", sessionId);
        var (_, third) = await StreamAsync(client, "And my name?", sessionId);

        Assert.Equal([sessionId, sessionId], new[] { second, third }.Select(l => l[0].Json.Str("session_id")));
        Assert.Equal(5, (int)third[1].Json["context_messages"]!);
        Assert.Equal(6, (int)third[^1].Json["message_count"]!);
        var reply = string.Concat(third.Where(l => l.Type == "chunk").Select(l => l.Json.Str("text")));
        Assert.Contains("Turn 3", reply);
        Assert.Contains("Your first message was: \"My name is Ada\"", reply);
    }

    [Fact]
    public async Task ChatStream_SendsEachDeltaAsItArrives_FirstChunkLongBeforeTheEnd()
    {
        using var client = (await fixture.PacedStreamingAsync()).CreateClient();

        var (_, lines) = await StreamAsync(client, "stream me", sessionId: null);

        var chunks = lines.Where(l => l.Type == "chunk").ToList();
        var first = chunks[0].ArrivedAfter;
        var last = lines[^1].ArrivedAfter;
        // Paced at 50 ms per token: a buffered reply would arrive in one go at the end.
        Assert.True(chunks.Count > 10);
        Assert.True(last - first > TimeSpan.FromMilliseconds(HttpTransportFixture.PacedInterTokenDelayMs * (chunks.Count - 3)),
            $"first chunk after {first.TotalMilliseconds} ms, complete after {last.TotalMilliseconds} ms");
        Assert.True(chunks[1].ArrivedAfter - chunks[0].ArrivedAfter > TimeSpan.FromMilliseconds(20));
        // The lines before the first chunk left before the model's first token.
        Assert.True(lines[0].ArrivedAfter < first);
    }

    [Fact]
    public async Task ChatStream_CountsItselfInStreamingConnections_WhileOpen()
    {
        var host = await fixture.PacedStreamingAsync();
        using var client = host.CreateClient();
        var started = Stopwatch.GetTimestamp();
        using var response = await client.SendStreamingAsync(HttpStreams.PostJson("chat/stream", new { message = "keep me open" })).DefaultTimeout();

        var open = await client.GetFromJsonAsync<JsonObject>("health").DefaultTimeout();
        await response.ReadNdjsonAsync(started);
        var closed = await client.GetFromJsonAsync<JsonObject>("stats").DefaultTimeout();

        Assert.Equal(1, (int)open!["streaming_connections"]!);
        Assert.Equal(0, (int)closed!["streaming_connections"]!);
    }

    [Fact]
    public async Task ChatStream_RecordsTimeToFirstChunkAndTheOutcome()
    {
        await using var host = await TransportHost<streaming::Program>.StartAsync(fixture.PacedLlm.Address, "streaming-metrics");
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var firstChunk = new MetricCollector<double>(meters, TransportTelemetry.Name, "chat.stream.time_to_first_chunk");
        using var streams = new MetricCollector<long>(meters, TransportTelemetry.Name, "chat.stream.count");
        using var client = host.CreateClient();

        await StreamAsync(client, "measure me", sessionId: null);

        var measured = Assert.Single(firstChunk.GetMeasurementSnapshot());
        Assert.InRange(measured.Value, HttpTransportFixture.PacedTimeToFirstTokenMs / 1000.0 * 0.8, 5);
        Assert.Equal("ndjson", measured.Tags["chat.protocol"]);
        var counted = Assert.Single(streams.GetMeasurementSnapshot());
        Assert.Equal("completed", counted.Tags["chat.outcome"]);
    }

    [Fact]
    public async Task ChatStream_ContinuesASessionCreatedThroughRest()
    {
        using var rest = (await fixture.RestAsync()).CreateClient();
        using var client = (await fixture.StreamingAsync()).CreateClient();
        using var restReply = await rest.PostAsJsonAsync("chat", new { message = "Started over REST" }).DefaultTimeout();
        var sessionId = (await restReply.ReadJsonObjectAsync()).Str("session_id");

        var (_, lines) = await StreamAsync(client, "Continued over NDJSON", sessionId);

        Assert.Equal(sessionId, lines[0].Json.Str("session_id"));
        Assert.False((bool)lines[0].Json["is_new_session"]!);
        Assert.Contains("Your first message was: \"Started over REST\"", string.Concat(lines.Where(l => l.Type == "chunk").Select(l => l.Json.Str("text"))));
        Assert.Equal(4, (int)lines[^1].Json["message_count"]!);
    }

    [Theory]
    [InlineData("{\"message\": \"  \"}", "Message is required")]
    [InlineData("{\"message\": [1, 2", "Malformed JSON body")]
    public async Task ChatStream_WithEmptyMessageOrMalformedJson_Returns400BeforeStreaming(string body, string detail)
    {
        using var client = (await fixture.StreamingAsync()).CreateClient();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");

        using var response = await client.PostAsync("chat/stream", content).DefaultTimeout();

        Assert.Equal(detail, await response.AssertProblemAsync(StatusCodes.Status400BadRequest));
    }

    [Fact]
    public async Task ChatStream_WithOversizedMessage_Returns400()
    {
        using var client = (await fixture.StreamingAsync()).CreateClient();

        using var response = await client.PostAsJsonAsync("chat/stream", new { message = new string('y', 40_000) }).DefaultTimeout();

        await response.AssertProblemAsync(StatusCodes.Status400BadRequest);
    }

    [Fact]
    public async Task ChatStream_WhileATurnRunsOnTheSession_Returns409()
    {
        using var client = (await fixture.PacedStreamingAsync()).CreateClient();
        var started = Stopwatch.GetTimestamp();
        using var running = await client.SendStreamingAsync(HttpStreams.PostJson("chat/stream", new { message = "first" })).DefaultTimeout();
        var head = await running.ReadNdjsonAsync(started, stopAfter: l => l.Type == "status");

        using var refused = await client.PostAsJsonAsync("chat/stream", new { message = "second", session_id = head[0].Json.Str("session_id") }).DefaultTimeout();

        Assert.Contains("already running", await refused.AssertProblemAsync(StatusCodes.Status409Conflict));
    }

    [Fact]
    public async Task ChatStream_PastTheTurnDeadline_EndsWithAnErrorLine()
    {
        await using var host = await TransportHost<streaming::Program>.StartAsync(fixture.PacedLlm.Address, "streaming-deadline",
            new Dictionary<string, string?> { ["Transport:TurnTimeout"] = "00:00:00.600" });
        using var client = host.CreateClient();

        var (response, lines) = await StreamAsync(client, "too slow", sessionId: null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["session_info", "status"], lines.Take(2).Select(l => l.Type));
        Assert.Contains(lines, l => l.Type == "chunk");
        Assert.DoesNotContain(lines, l => l.Type == "complete");
        var error = lines[^1].Json;
        Assert.Equal("error", error.Str("type"));
        Assert.Equal("DEADLINE_EXCEEDED", error.Str("code"));
        Assert.Equal("The model did not answer in time", error.Str("message"));
        Assert.Equal(lines[0].Json.Str("session_id"), error.Str("session_id"));
    }

    [Fact]
    public async Task ChatStream_WithTheLlmServiceStopped_Returns503()
    {
        var llm = await LlmServiceHost.StartAsync(fixture.Redis.ConnectionString);
        await using var host = await TransportHost<streaming::Program>.StartAsync(llm.Address, "streaming-orphan");
        using var client = host.CreateClient();
        await llm.DisposeAsync();

        using var response = await client.PostAsJsonAsync("chat/stream", new { message = "hello?" }).DefaultTimeout();

        await response.AssertProblemAsync(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<(HttpResponseMessage Response, List<NdjsonLine> Lines)> StreamAsync(HttpClient client, string message, string? sessionId)
    {
        var started = Stopwatch.GetTimestamp();
        var response = await client.SendStreamingAsync(HttpStreams.PostJson("chat/stream", new { message, session_id = sessionId })).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response, await response.ReadNdjsonAsync(started));
    }
}
