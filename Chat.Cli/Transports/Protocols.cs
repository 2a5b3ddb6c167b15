namespace Chat.Cli.Transports;

/// <summary>The five protocol names as the command line and the gateway's path prefixes spell them.</summary>
public static class Protocols
{
    public const string Rest = "rest";
    public const string Streaming = "streaming";
    public const string Sse = "sse";
    public const string WebSocket = "websocket";
    public const string Grpc = "grpc";

    public static readonly IReadOnlyList<string> All = [Rest, Streaming, Sse, WebSocket, Grpc];

    /// <summary>Accepts the canonical names and the obvious aliases (ndjson, http, ws).</summary>
    public static string? Normalize(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        "rest" or "http" => Rest,
        "streaming" or "stream" or "ndjson" => Streaming,
        "sse" => Sse,
        "websocket" or "ws" => WebSocket,
        "grpc" => Grpc,
        _ => null,
    };
}
