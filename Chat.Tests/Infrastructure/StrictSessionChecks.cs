using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Transports.Shared.Hosting;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// The strict-session flag (docs/http-transports.md) checked the same way on every HTTP chat route: each check runs
/// as its own principal (the X-Chat-Principal the gateway would set), so "nothing was created" is an exact count of
/// that principal's sessions, untouched by other tests.
/// </summary>
public sealed class StrictSessionChecks(HttpClient client, string chatPath, Func<HttpResponseMessage, Task<(string SessionId, bool IsNew)>> readReply)
{
    /// <summary>How a strict request says so: the header (both spellings) or the query parameter.</summary>
    public enum Flag
    {
        HeaderTrue,
        HeaderOne,
        Query,
    }

    /// <summary>Strict + an id the server does not know → 404 problem before any stream, and no session for the caller.</summary>
    public async Task UnknownIdIsNotFound_AndNothingIsCreatedAsync(Flag flag, string unknownId)
    {
        var principal = NewPrincipal();
        using var response = await SendAsync(principal, unknownId, flag);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.ReadJsonObjectAsync();
        Assert.Equal(404, (int)problem["status"]!);
        Assert.Equal("Session not found", problem.Str("title"));
        Assert.Equal("Session not found", problem.Str("detail"));
        Assert.Equal(StrictSession.NotFoundCode, problem.Str("code"));
        Assert.Equal(unknownId, problem.Str("session_id"));

        // Nothing was created or stored for this caller, and the id is still unknown.
        Assert.Equal(0, await SessionCountAsync(principal));
        using var lookup = Request(HttpMethod.Get, $"sessions/{Uri.EscapeDataString(unknownId)}", principal);
        using var unknown = await client.SendAsync(lookup).DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    /// <summary>Strict + the caller's own session → the ordinary reply on that session.</summary>
    public async Task KnownIdGetsTheUsualReplyAsync()
    {
        var principal = NewPrincipal();
        var sessionId = await CreateSessionAsync(principal);

        using var response = await SendAsync(principal, sessionId, Flag.HeaderTrue);

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var (replySession, isNew) = await readReply(response);
        Assert.Equal(sessionId, replySession);
        Assert.False(isNew);
        Assert.Equal(1, await SessionCountAsync(principal));
    }

    /// <summary>Strict + another caller's session → as unknown as a missing one: 404, and the session is left alone.</summary>
    public async Task AnotherCallersSessionIsNotFoundAsync()
    {
        var owner = NewPrincipal();
        var sessionId = await CreateSessionAsync(owner);
        var stranger = NewPrincipal();

        using var response = await SendAsync(stranger, sessionId, Flag.HeaderTrue);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(StrictSession.NotFoundCode, (await response.ReadJsonObjectAsync()).Str("code"));
        Assert.Equal(0, await SessionCountAsync(stranger));
        using var lookup = Request(HttpMethod.Get, $"sessions/{sessionId}", owner);
        using var info = await client.SendAsync(lookup).DefaultTimeout();
        Assert.Equal(0, (int)(await info.ReadJsonObjectAsync())["message_count"]!);
    }

    /// <summary>Strict without a session_id is not a lookup: a new session, as usual.</summary>
    public async Task NoIdStartsANewSessionAsync()
    {
        var principal = NewPrincipal();

        using var response = await SendAsync(principal, sessionId: null, Flag.HeaderTrue);

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var (sessionId, isNew) = await readReply(response);
        Assert.True(isNew);
        Assert.True(Guid.TryParse(sessionId, out _));
        Assert.Equal(1, await SessionCountAsync(principal));
    }

    /// <summary>Without the flag (or with it false) an unknown id is replaced, the original's get-or-create, and the reply says so.</summary>
    public async Task WithoutTheFlagAnUnknownIdIsReplacedAsync(string? flagValue)
    {
        var principal = NewPrincipal();
        var unknownId = Guid.NewGuid().ToString();
        using var request = Request(HttpMethod.Post, chatPath, principal, new { message = "hello", session_id = unknownId });
        if (flagValue is not null)
        {
            request.Headers.Add(StrictSession.HeaderName, flagValue);
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var (sessionId, isNew) = await readReply(response);
        Assert.True(isNew);
        Assert.NotEqual(unknownId, sessionId);
        Assert.Equal(1, await SessionCountAsync(principal));
    }

    private async Task<HttpResponseMessage> SendAsync(string principal, string? sessionId, Flag flag)
    {
        var path = flag == Flag.Query ? $"{chatPath}?{StrictSession.QueryParameter}=true" : chatPath;
        using var request = Request(HttpMethod.Post, path, principal, new { message = "strict please", session_id = sessionId });
        if (flag != Flag.Query)
        {
            request.Headers.Add(StrictSession.HeaderName, flag == Flag.HeaderOne ? "1" : "true");
        }

        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
    }

    private async Task<string> CreateSessionAsync(string principal)
    {
        using var request = Request(HttpMethod.Post, "sessions/new", principal, new { });
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.ReadJsonObjectAsync()).Str("session_id")!;
    }

    private async Task<int> SessionCountAsync(string principal)
    {
        using var request = Request(HttpMethod.Get, "sessions", principal);
        using var response = await client.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonObjectAsync();
        Assert.Equal(body["sessions"]!.AsArray().Count, (int)body["active_sessions"]!);
        return (int)body["active_sessions"]!;
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string principal, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add(ChatPrincipal.HeaderName, principal);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return request;
    }

    private static string NewPrincipal() => $"strict-{Guid.NewGuid():N}";

    /// <summary>REST's reply body.</summary>
    public static async Task<(string SessionId, bool IsNew)> ReadRestReplyAsync(HttpResponseMessage response)
    {
        var body = await response.ReadJsonObjectAsync();
        return (body.Str("session_id")!, (bool)body["is_new_session"]!);
    }

    /// <summary>An NDJSON stream read to its end (so the turn is over): its session_info line.</summary>
    public static async Task<(string SessionId, bool IsNew)> ReadNdjsonReplyAsync(HttpResponseMessage response)
    {
        var lines = await response.ReadNdjsonAsync(Stopwatch.GetTimestamp());
        Assert.Equal("complete", lines[^1].Type);
        var info = lines.First(l => l.Type == "session_info").Json;
        return (info.Str("session_id")!, (bool)info["is_new_session"]!);
    }

    /// <summary>An SSE stream read to its end: its session_info event.</summary>
    public static async Task<(string SessionId, bool IsNew)> ReadSseReplyAsync(HttpResponseMessage response)
    {
        var frames = await response.ReadSseAsync(Stopwatch.GetTimestamp());
        Assert.Contains(frames, f => f.Event == "complete");
        var info = frames.First(f => f.Event == "session_info").Json;
        return (info.Str("session_id")!, (bool)info["is_new_session"]!);
    }

    /// <summary>The 202 of SSE's POST /chat/turns.</summary>
    public static async Task<(string SessionId, bool IsNew)> ReadTurnStartedAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        JsonObject body = await response.ReadJsonObjectAsync();
        return (body.Str("session_id")!, (bool)body["is_new_session"]!);
    }
}
