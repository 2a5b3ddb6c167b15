using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Chat.Transports.Shared.Hosting;

/// <summary>
/// The strict-session flag: a client that would rather hear "not found" than have a mistyped or expired
/// <c>session_id</c> silently replaced by a new session (the original's get-or-create, still the default) asks for it
/// per request. HTTP: header <c>X-Chat-Strict-Session: true</c> (or <c>1</c>), or <c>?strict_session=true</c> for
/// clients that cannot set headers (a browser's WebSocket or EventSource); gRPC: metadata <c>x-chat-strict-session</c>.
/// Every transport parses it here, so the names and the accepted values are the same everywhere.
/// </summary>
public static class StrictSession
{
    public const string HeaderName = "X-Chat-Strict-Session";
    public const string QueryParameter = "strict_session";

    /// <summary>The gRPC metadata key (gRPC keys are lower case).</summary>
    public const string MetadataKey = "x-chat-strict-session";

    /// <summary>The <c>code</c> extension of the 404 problem (and the error code of a stream's or socket's refusal).</summary>
    public const string NotFoundCode = "session_not_found";

    public const string NotFoundTitle = "Session not found";

    /// <summary>"true" or "1" (any case, surrounding blanks ignored); anything else, or nothing, is the default behaviour.</summary>
    public static bool IsRequested(string? value)
    {
        var trimmed = value?.Trim();
        return string.Equals(trimmed, "true", StringComparison.OrdinalIgnoreCase) || trimmed == "1";
    }

    /// <summary>The header, else the query parameter.</summary>
    public static bool IsRequested(HttpRequest request) =>
        request.Headers.TryGetValue(HeaderName, out var header) && header.Count > 0
            ? IsRequested(header.ToString())
            : request.Query.TryGetValue(QueryParameter, out var query) && IsRequested(query.ToString());

    /// <summary>
    /// True when a strict request names a session that cannot exist: session ids are GUIDs, so anything else (the
    /// README's <c>&lt;id&gt;</c> pasted as is) is answered "not found" at once, as the LLM service would for a GUID it
    /// does not know. No id at all is not a lookup: a strict request without one starts a new session as usual.
    /// </summary>
    public static bool CannotExist(string? sessionId) =>
        !string.IsNullOrWhiteSpace(sessionId) && !Guid.TryParse(sessionId.Trim(), out _);

    /// <summary>
    /// 404 ProblemDetails for a strict request on an unknown session (or another caller's, which is as unknown to this
    /// caller): <c>title</c> and <c>detail</c> "Session not found", <c>code</c> "session_not_found", the <c>session_id</c>
    /// asked for, and <c>grpc_status</c> as every other problem of the transports.
    /// </summary>
    public static ProblemHttpResult NotFound(string? sessionId) => TypedResults.Problem(
        title: NotFoundTitle,
        detail: NotFoundTitle,
        statusCode: StatusCodes.Status404NotFound,
        extensions: new Dictionary<string, object?>
        {
            ["code"] = NotFoundCode,
            ["session_id"] = sessionId?.Trim() ?? "",
            ["grpc_status"] = "NOT_FOUND",
        });
}
