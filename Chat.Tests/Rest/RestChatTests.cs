extern alias rest;

using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Chat.Tests.Rest;

[Collection(HttpTransportCollection.Name)]
public sealed class RestChatTests(HttpTransportFixture fixture)
{
    [Fact]
    public async Task Chat_ThreeTurns_ThirdReplyQuotesTheFirstMessage()
    {
        using var client = (await fixture.RestAsync()).CreateClient();
        var created = await (await client.PostAsJsonAsync("sessions/new", new { }).DefaultTimeout()).ReadJsonObjectAsync();
        var sessionId = created.Str("session_id")!;

        var first = await ChatAsync(client, "My name is Ada", sessionId);
        var second = await ChatAsync(client, "What is two plus two?", sessionId);
        var third = await ChatAsync(client, "And my name?", sessionId);

        // The original's fields, in its types.
        foreach (var reply in new[] { first, second, third })
        {
            Assert.Equal(sessionId, reply.Str("session_id"));
            Assert.False((bool)reply["is_new_session"]!);
            Assert.Equal("offline-echo-1", reply.Str("model"));
            Assert.True((double)reply["processing_time"]! >= 0);
            Assert.True(DateTimeOffset.TryParse(reply.Str("timestamp"), System.Globalization.CultureInfo.InvariantCulture, out _));
        }

        Assert.Equal([2, 4, 6], new[] { first, second, third }.Select(r => (int)r["message_count"]!));
        Assert.Contains("You said: \"My name is Ada\"", first.Str("response"));
        Assert.Contains("Turn 3", third.Str("response"));
        Assert.Contains("Your first message was: \"My name is Ada\"", third.Str("response"));

        // Additions: usage and timings.
        Assert.True((int)third["usage"]!["output_tokens"]! > 0);
        Assert.Equal((int)third["usage"]!["input_tokens"]! + (int)third["usage"]!["output_tokens"]!, (int)third["usage"]!["total_tokens"]!);
        Assert.NotNull(third["timings"]!["time_to_first_token"]);
        Assert.Equal("stop", third.Str("finish_reason"));
    }

    [Fact]
    public async Task Chat_WithoutOrWithUnknownSessionId_CreatesANewSession()
    {
        using var client = (await fixture.RestAsync()).CreateClient();

        var withoutId = await ChatAsync(client, "hello", sessionId: null);
        var unknownId = Guid.NewGuid().ToString();
        var withUnknownId = await ChatAsync(client, "hello again", unknownId);

        Assert.True((bool)withoutId["is_new_session"]!);
        Assert.True((bool)withUnknownId["is_new_session"]!);
        Assert.NotEqual(unknownId, withUnknownId.Str("session_id"));
        Assert.Equal(2, (int)withUnknownId["message_count"]!);
        var info = await client.GetFromJsonAsync<JsonObject>($"sessions/{withUnknownId.Str("session_id")}").DefaultTimeout();
        Assert.Equal(2, (int)info!["message_count"]!);
    }

    [Theory]
    [InlineData("{\"message\": \"\"}", "Message is required")]
    [InlineData("{\"message\": \"   \"}", "Message is required")]
    [InlineData("{\"session_id\": \"x\"}", "Message is required")]
    [InlineData("{\"message\": ", "Malformed JSON body")]
    [InlineData("not json", "Malformed JSON body")]
    public async Task Chat_WithEmptyMessageOrMalformedJson_Returns400ProblemDetails(string body, string detail)
    {
        using var client = (await fixture.RestAsync()).CreateClient();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");

        using var response = await client.PostAsync("chat", content).DefaultTimeout();

        Assert.Equal(detail, await response.AssertProblemAsync(StatusCodes.Status400BadRequest));
    }

    [Fact]
    public async Task Chat_WithOversizedMessage_Returns400()
    {
        using var client = (await fixture.RestAsync()).CreateClient();

        using var response = await client.PostAsJsonAsync("chat", new { message = new string('x', 40_000) }).DefaultTimeout();

        Assert.Contains("too long", await response.AssertProblemAsync(StatusCodes.Status400BadRequest));
    }

    [Fact]
    public async Task Chat_WhileATurnRunsOnTheSession_Returns409()
    {
        using var client = (await fixture.PacedRestAsync()).CreateClient();
        var sessionId = (await (await client.PostAsJsonAsync("sessions/new", new { }).DefaultTimeout()).ReadJsonObjectAsync()).Str("session_id");

        var running = client.PostAsJsonAsync("chat", new { message = "a slow reply", session_id = sessionId });
        await Task.Delay(150);
        using var refused = await client.PostAsJsonAsync("chat", new { message = "me too", session_id = sessionId }).DefaultTimeout();

        Assert.Contains("already running", await refused.AssertProblemAsync(StatusCodes.Status409Conflict));
        using var finished = await running.DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, finished.StatusCode);
    }

    [Fact]
    public async Task Chat_PastTheTurnDeadline_Returns504()
    {
        await using var rest = await TransportHost<rest::Program>.StartAsync(fixture.PacedLlm.Address, "rest-deadline",
            new Dictionary<string, string?> { ["Transport:TurnTimeout"] = "00:00:00.200" });
        using var client = rest.CreateClient();

        using var response = await client.PostAsJsonAsync("chat", new { message = "take your time" }).DefaultTimeout();

        Assert.Equal("The model did not answer in time", await response.AssertProblemAsync(StatusCodes.Status504GatewayTimeout));
    }

    [Fact]
    public async Task Chat_WithTheLlmServiceStopped_Returns503_AndHealthSaysDegraded()
    {
        var llm = await LlmServiceHost.StartAsync(fixture.Redis.ConnectionString);
        await using var rest = await TransportHost<rest::Program>.StartAsync(llm.Address, "rest-orphan");
        using var client = rest.CreateClient();
        var session = await (await client.PostAsJsonAsync("sessions/new", new { }).DefaultTimeout()).ReadJsonObjectAsync();

        await llm.DisposeAsync();

        using var chat = await client.PostAsJsonAsync("chat", new { message = "anyone there?", session_id = session.Str("session_id") }).DefaultTimeout();
        Assert.Equal("The chat service is unavailable, try again shortly", await chat.AssertProblemAsync(StatusCodes.Status503ServiceUnavailable));
        using var sessions = await client.GetAsync("sessions").DefaultTimeout();
        await sessions.AssertProblemAsync(StatusCodes.Status503ServiceUnavailable);
        using var stats = await client.GetAsync("stats").DefaultTimeout();
        await stats.AssertProblemAsync(StatusCodes.Status503ServiceUnavailable);

        using var health = await client.GetAsync("health").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var body = await health.ReadJsonObjectAsync();
        Assert.Equal("degraded", body.Str("status"));
        Assert.Equal("unreachable", body.Str("llm_service"));
    }

    [Fact]
    public async Task Stats_CountEveryTurnAndCreatedSession()
    {
        using var client = (await fixture.RestAsync()).CreateClient();
        var before = await client.GetFromJsonAsync<JsonObject>("stats").DefaultTimeout();

        var reply = await ChatAsync(client, "count me", sessionId: null);
        await ChatAsync(client, "and me", reply.Str("session_id"));

        var after = await client.GetFromJsonAsync<JsonObject>("stats").DefaultTimeout();
        Assert.Equal((long)before!["total_requests"]! + 2, (long)after!["total_requests"]!);
        Assert.Equal((long)before["successful_requests"]! + 2, (long)after["successful_requests"]!);
        Assert.Equal((long)before["failed_requests"]!, (long)after["failed_requests"]!);
        Assert.Equal((long)before["total_sessions_created"]! + 1, (long)after["total_sessions_created"]!);
        Assert.True((double)after["average_response_time"]! >= 0);
        Assert.Null(after["streaming_connections"]);
        Assert.Equal("rest-1", ((string)after["instance"]!).Split('/')[1]);
    }

    private static async Task<JsonObject> ChatAsync(HttpClient client, string message, string? sessionId)
    {
        using var response = await client.PostAsJsonAsync("chat", new { message, session_id = sessionId }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.ContentType()?.MediaType);
        return await response.ReadJsonObjectAsync();
    }
}
