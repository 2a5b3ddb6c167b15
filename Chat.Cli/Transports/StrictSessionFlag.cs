namespace Chat.Cli.Transports;

/// <summary>
/// How the client asks for strict sessions (the server's Chat.Transports.Shared StrictSession, docs/http-transports.md):
/// an unknown session_id is then "Session not found" instead of being quietly replaced by a new session. The HTTP
/// transports send the header on each chat request, WebSocket on the upgrade, gRPC as call metadata.
/// </summary>
public static class StrictSessionFlag
{
    public const string HeaderName = "X-Chat-Strict-Session";
    public const string MetadataKey = "x-chat-strict-session";
    public const string Value = "true";
}
