using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Chat.Tests.Sse;

[Collection(HttpTransportCollection.Name)]
public sealed class SseResumeTests(HttpTransportFixture fixture)
{
    [Fact]
    public async Task StartTurn_Returns202_WithARelativeEventsUrl()
    {
        using var client = (await fixture.SseAsync()).CreateClient();

        using var response = await client.PostAsJsonAsync("chat/turns", new { message = "start me" }).DefaultTimeout();

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var turn = await response.ReadJsonObjectAsync();
        var turnId = turn.Str("turn_id");
        Assert.Equal($"turns/{turnId}/events", turn.Str("events_url"));
        Assert.Equal($"turns/{turnId}/events", response.Headers.Location?.OriginalString);
        Assert.True((bool)turn["is_new_session"]!);

        // Relative to the request URL, as a browser resolves it.
        var events = new Uri(new Uri(client.BaseAddress!, "chat/turns"), turn.Str("events_url"));
        var frames = await ReadAllAsync(client, events.PathAndQuery.TrimStart('/'), lastEventId: null);
        Assert.Equal("complete", frames[^1].Event);
        Assert.Equal(turn.Str("session_id"), frames[^1].Json.Str("session_id"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TurnEvents_DroppedMidReply_ResumeWithLastEventId_DeliversEveryMissedEventOnceInOrder(bool onAnotherReplica)
    {
        using var first = (await fixture.PacedSseAsync(1)).CreateClient();
        using var second = (await fixture.PacedSseAsync(onAnotherReplica ? 2 : 1)).CreateClient();
        using var started = await first.PostAsJsonAsync("chat/turns", new { message = "a long story" }).DefaultTimeout();
        var turnId = (await started.ReadJsonObjectAsync()).Str("turn_id")!;
        var path = $"chat/turns/{turnId}/events";

        // Read a few chunks, then drop the connection mid-reply.
        var before = await ReadAllAsync(first, path, lastEventId: null, stopAfter: f => f.Event == "chunk" && (int)f.Json["chunk_number"]! == 4);
        var lastSeen = before.Last(f => f.Id is not null).Id;

        var answer = await ReadAllAsync(second, path, lastEventId: lastSeen);

        // The resume is answered first (no id: it does not move the resume point): every later event follows.
        var resume = Assert.Single(answer, f => f.Event == "resume");
        Assert.Null(resume.Id);
        Assert.True((bool)resume.Json["recovered"]!);
        Assert.Equal(lastSeen![(lastSeen!.LastIndexOf('@') + 1)..], resume.Json.Str("epoch"));
        Assert.Equal(turnId, resume.Json.Str("turn_id"));
        var after = answer.Where(f => f.Event != "resume").ToList();
        Assert.Equal("chunk", before[^1].Event);
        Assert.Equal("chunk", after.First(f => f.Data is not null).Event);
        Assert.Equal(5, (int)after.First(f => f.Data is not null).Json["chunk_number"]!);
        Assert.Equal("complete", after[^1].Event);

        // Together they are exactly the whole turn, as a client that never dropped would have seen it.
        var whole = await ReadAllAsync(first, path, lastEventId: null);
        Assert.Equal(Events(whole), Events(before).Concat(Events(after)));
        Assert.True(((string)after[0].Id! != lastSeen) || after[0].Data is null);
    }

    [Fact]
    public async Task TurnEvents_ResumedBetweenTheTwoFramesOfOneEvent_SendsOnlyTheSecond()
    {
        using var client = (await fixture.SseAsync()).CreateClient();
        using var started = await client.PostAsJsonAsync("chat/turns", new { message = "split" }).DefaultTimeout();
        var turnId = (await started.ReadJsonObjectAsync()).Str("turn_id");

        // An id of the first form (no epoch) still resumes; only the epoch is not checked.
        var frames = (await ReadAllAsync(client, $"chat/turns/{turnId}/events", lastEventId: $"{turnId}:1.1")).Where(f => f.Data is not null).ToList();

        Assert.Equal("resume", frames[0].Event);
        Assert.True((bool)frames[0].Json["recovered"]!);
        Assert.Equal("status", frames[1].Event);
        Assert.StartsWith($"{turnId}:1@", frames[1].Id, StringComparison.Ordinal);
        Assert.DoesNotContain(frames, f => f.Event == "session_info");
        Assert.Equal("complete", frames[^1].Event);
    }

    [Fact]
    public async Task TurnEvents_AfterTheLastEvent_Returns204SoEventSourceStops()
    {
        using var client = (await fixture.SseAsync()).CreateClient();
        using var started = await client.PostAsJsonAsync("chat/turns", new { message = "done" }).DefaultTimeout();
        var turnId = (await started.ReadJsonObjectAsync()).Str("turn_id");
        var frames = await ReadAllAsync(client, $"chat/turns/{turnId}/events", lastEventId: null);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"chat/turns/{turnId}/events");
        request.Headers.Add("Last-Event-ID", frames[^1].Id);
        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task TurnEvents_OfAnUnknownTurn_Returns404_AndAMalformedLastEventId_Returns400()
    {
        using var client = (await fixture.SseAsync()).CreateClient();
        var unknown = Guid.NewGuid().ToString("N");

        using var notFound = await client.GetAsync($"chat/turns/{unknown}/events").DefaultTimeout();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"chat/turns/{unknown}/events");
        request.Headers.Add("Last-Event-ID", "someone-else:3");
        using var malformed = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal("Turn not found", await notFound.AssertProblemAsync(StatusCodes.Status404NotFound));
        await malformed.AssertProblemAsync(StatusCodes.Status400BadRequest);
    }

    [Fact]
    public async Task TurnEvents_WithAnIdOfAnotherEpoch_SaysEpochChanged_ThenSendsTheWholeBuffer()
    {
        using var client = (await fixture.SseAsync()).CreateClient();
        using var started = await client.PostAsJsonAsync("chat/turns", new { message = "epochs" }).DefaultTimeout();
        var turnId = (await started.ReadJsonObjectAsync()).Str("turn_id");
        var whole = await ReadAllAsync(client, $"chat/turns/{turnId}/events", lastEventId: null);
        var epoch = whole[^1].Id![(whole[^1].Id!.LastIndexOf('@') + 1)..];

        // A position of a buffer that is not this one (as after Redis lost and recreated it) means nothing here.
        var frames = (await ReadAllAsync(client, $"chat/turns/{turnId}/events", lastEventId: $"{turnId}:5@0123456789ab"))
            .Where(f => f.Data is not null).ToList();

        Assert.NotEqual("0123456789ab", epoch);
        Assert.Equal("resume", frames[0].Event);
        Assert.False((bool)frames[0].Json["recovered"]!);
        Assert.Equal("epoch_changed", frames[0].Json.Str("reason"));
        Assert.Equal(epoch, frames[0].Json.Str("epoch"));
        Assert.Equal(Events(whole), Events(frames.Skip(1).ToList()));
    }

    [Fact]
    public async Task TurnEvents_OfAnExpiredOrUnknownTurn_IsA404ThatSaysNotRecoveredExpired()
    {
        using var client = (await fixture.SseAsync()).CreateClient();
        var unknown = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"chat/turns/{unknown}/events");
        request.Headers.Add("Last-Event-ID", $"{unknown}:4@0123456789ab");

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.ReadJsonObjectAsync();
        Assert.Equal("Turn not found", problem.Str("detail"));
        Assert.False((bool)problem["recovered"]!);
        Assert.Equal("expired", problem.Str("reason"));
        Assert.Equal(unknown, problem.Str("turn_id"));
    }

    [Fact]
    public async Task TurnEvents_TheLastEventIdQueryParameterWorksLikeTheHeader()
    {
        using var client = (await fixture.SseAsync()).CreateClient();
        using var started = await client.PostAsJsonAsync("chat/turns", new { message = "query" }).DefaultTimeout();
        var turnId = (await started.ReadJsonObjectAsync()).Str("turn_id");

        var frames = (await ReadAllAsync(client, $"chat/turns/{turnId}/events?last_event_id={turnId}:2", lastEventId: null))
            .Where(f => f.Data is not null && f.Event != "resume").ToList();

        Assert.StartsWith($"{turnId}:3@", frames[0].Id, StringComparison.Ordinal);
        Assert.Equal(2, (int)frames[0].Json["chunk_number"]!);
    }

    [Fact]
    public async Task CancelTurn_StopsARunningTurn_AndItsStreamEndsWithACancelledError()
    {
        using var client = (await fixture.PacedSseAsync()).CreateClient();
        using var started = await client.PostAsJsonAsync("chat/turns", new { message = "never mind" }).DefaultTimeout();
        var turnId = (await started.ReadJsonObjectAsync()).Str("turn_id");

        using var cancel = await client.DeleteAsync($"chat/turns/{turnId}").DefaultTimeout();
        var frames = await ReadAllAsync(client, $"chat/turns/{turnId}/events", lastEventId: null);

        Assert.True((bool)(await cancel.ReadJsonObjectAsync())["cancelled"]!);
        Assert.Equal("error", frames[^1].Event);
        Assert.Equal("CANCELLED", frames[^1].Json.Str("code"));
        Assert.NotNull(frames[^1].Id);
    }

    private static IEnumerable<(string? Id, string? Event, string? Data)> Events(List<SseFrame> frames) =>
        frames.Where(f => f.Data is not null).Select(f => (f.Id, f.Event, WithoutTimings(f)));

    // processing_time is measured per request; everything else must match exactly.
    private static string? WithoutTimings(SseFrame frame)
    {
        var json = frame.Json;
        json.Remove("processing_time");
        return json.ToJsonString();
    }

    private static async Task<List<SseFrame>> ReadAllAsync(HttpClient client, string path, string? lastEventId, Func<SseFrame, bool>? stopAfter = null)
    {
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using var response = await client.SendStreamingAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.ContentType()?.MediaType);
        return await response.ReadSseAsync(started, stopAfter);
    }
}
