namespace Chat.Transports.Shared.Hosting;

/// <summary>
/// What makes one HTTP transport different from the others in the shared routes: its name and features in
/// <c>GET /</c>, its own routes listed there, the connection counter the original reported in /health and /stats,
/// and its demo page.
/// </summary>
public sealed class ChatTransportDescriptor
{
    /// <summary>The original's API title, e.g. "GenAI SSE Multi-turn Chat API".</summary>
    public required string Name { get; init; }

    /// <summary>E.g. "ASP.NET Core + SSE" (the original said "FastAPI + SSE").</summary>
    public required string Framework { get; init; }

    public string Version { get; init; } = "3.0.0";

    public IReadOnlyList<string> Features { get; init; } = ["multi-turn conversations", "session management"];

    /// <summary>The transport's own routes for <c>GET /</c> (name → "METHOD /path"); the shared ones are added.</summary>
    public IReadOnlyDictionary<string, string> Endpoints { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Which open-connection counter /health and /stats carry: <see cref="ConnectionCounterField.Streaming"/>
    /// (NDJSON, SSE), <see cref="ConnectionCounterField.WebSocket"/>, or <see cref="ConnectionCounterField.None"/> (REST).
    /// </summary>
    public ConnectionCounterField ConnectionCounter { get; init; } = ConnectionCounterField.None;

    /// <summary>The HTML of <c>GET /demo</c>; null maps no demo route. Links in it must be relative.</summary>
    public string? DemoPageHtml { get; init; }
}

public enum ConnectionCounterField
{
    None,
    Streaming,
    WebSocket,
}
