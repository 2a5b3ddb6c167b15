using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Chat.Conversation.Hosting;

/// <summary>
/// The opt-in strict-session flag: a client that sends it means "this session or nothing". A message naming an
/// unknown session is then refused (WebSocket: <c>error</c> with code <c>session_not_found</c>; gRPC SendMessage:
/// NOT_FOUND) instead of starting a new one (the original's get-or-create, still the default). WebSocket reads it
/// from the upgrade request and applies it to the whole connection; gRPC from the call's metadata (HTTP/2 headers).
/// <para>
/// A local stand-in for the HTTP transports' parser in Chat.Transports.Shared (being written beside this); same
/// names and values, to be replaced by it once both have landed.
/// </para>
/// </summary>
public static class StrictSession
{
    /// <summary><c>X-Chat-Strict-Session: true</c> (or <c>1</c>); gRPC metadata keys are this name in lower case.</summary>
    public const string HeaderName = "X-Chat-Strict-Session";

    /// <summary><c>?strict_session=true</c> (or <c>1</c>), for WebSocket clients that cannot set headers (browsers).</summary>
    public const string QueryName = "strict_session";

    /// <summary>The error code a refused message carries on the JSON transports.</summary>
    public const string ErrorCode = "session_not_found";

    public static bool IsRequested(HttpRequest request) =>
        IsOn(request.Headers[HeaderName]) || IsOn(request.Query[QueryName]);

    private static bool IsOn(StringValues values)
    {
        foreach (var value in values)
        {
            var text = value?.Trim();
            if (text == "1" || string.Equals(text, "true", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
