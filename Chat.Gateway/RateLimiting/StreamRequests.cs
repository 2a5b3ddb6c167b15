namespace Chat.Gateway.RateLimiting;

/// <summary>
/// Which proxied requests are streams — long-lived requests that hold a connection, a backend slot and a model turn
/// for as long as they stay open — and in which protocol. Matched on the gateway's public paths (the routes in
/// appsettings.json) the way the backends route them: case-insensitive, trailing slash ignored.
/// </summary>
public static class StreamRequests
{
    public const string Ndjson = "ndjson";
    public const string Sse = "sse";
    public const string WebSocket = "websocket";
    public const string Grpc = "grpc";
    public const string GrpcWeb = "grpc-web";

    /// <summary>The public chat.ChatService methods that stream their response (chat.proto).</summary>
    private static readonly string[] StreamingGrpcMethods =
        ["/chat.ChatService/Chat", "/chat.ChatService/SendMessage", "/chat.ChatService/WatchSession"];

    /// <summary>The stream's protocol, or null for a request that is not a stream (REST, sessions, unary gRPC…).</summary>
    public static string? ProtocolOf(HttpRequest request)
    {
        if (IsWebSocketUpgrade(request))
        {
            return WebSocket;
        }

        // Decided by the path alone, never by a header the client could bend (a GET of SSE events sent with a gRPC
        // content type is still an SSE stream). Native gRPC at the bare path; gRPC-Web there or under /grpc.
        var path = (request.Path.Value ?? "").TrimEnd('/');
        if (StreamingGrpcMethods.Any(method => path.EndsWith(method, StringComparison.OrdinalIgnoreCase)))
        {
            return request.ContentType?.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase) == true ? GrpcWeb : Grpc;
        }

        var trimmed = new PathString(path);
        if (trimmed.StartsWithSegments("/streaming", StringComparison.OrdinalIgnoreCase, out var ndjsonRest))
        {
            return IsChatStream(ndjsonRest) ? Ndjson : null;
        }

        if (trimmed.StartsWithSegments("/sse", StringComparison.OrdinalIgnoreCase, out var sseRest))
        {
            return IsChatStream(sseRest) || IsTurnEvents(sseRest) ? Sse : null;
        }

        return null;
    }

    /// <summary>An HTTP/1.1 upgrade to WebSocket, or an HTTP/2 WebSocket (RFC 8441 extended CONNECT).</summary>
    public static bool IsWebSocketUpgrade(HttpRequest request) =>
        request.Headers.Upgrade.ToString().Equals("websocket", StringComparison.OrdinalIgnoreCase)
        || HttpMethods.IsConnect(request.Method);

    private static bool IsChatStream(PathString rest) => rest.Equals("/chat/stream", StringComparison.OrdinalIgnoreCase);

    /// <summary>/chat/turns/{turnId}/events: the resumable SSE form of a turn.</summary>
    private static bool IsTurnEvents(PathString rest) =>
        rest.StartsWithSegments("/chat/turns", StringComparison.OrdinalIgnoreCase, out var turn)
        && turn.Value is { } value
        && value.EndsWith("/events", StringComparison.OrdinalIgnoreCase)
        && value.Count(c => c == '/') == 2;
}
