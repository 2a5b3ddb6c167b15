namespace Chat.Cli.Transports;

/// <summary>
/// One wire protocol seen from the client. The REPL and the subcommands use only this interface, so every command
/// behaves the same over REST, NDJSON streaming, SSE, WebSocket and gRPC. Failures are <see cref="ChatTransportException"/>
/// before a reply starts, and an <see cref="ErrorEvent"/> after.
/// </summary>
public interface IChatTransport : IAsyncDisposable
{
    /// <summary>The protocol name as the command line spells it (rest, streaming, sse, websocket, grpc).</summary>
    string Name { get; }

    /// <summary>The address this transport talks to, for messages.</summary>
    string Endpoint { get; }

    /// <summary>True when a reply interrupted by a lost connection can be continued (<see cref="ResumeAsync"/>).</summary>
    bool SupportsResume { get; }

    /// <summary>The last reply that did not finish and can be resumed, if any.</summary>
    ResumePoint? PendingResume { get; }

    Uri? DocsUri { get; }

    Uri? DemoUri { get; }

    Task<CreatedSession> CreateSessionAsync(string? modelId, CancellationToken cancellationToken);

    Task<SessionDetails> GetSessionAsync(string sessionId, CancellationToken cancellationToken);

    Task<SessionList> ListSessionsAsync(CancellationToken cancellationToken);

    /// <summary>Deletes the session; returns the server's message.</summary>
    Task<string> DeleteSessionAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>Clears the session's history on the server; returns the server's message.</summary>
    Task<string> ClearSessionAsync(string sessionId, CancellationToken cancellationToken);

    Task<ServerReport> GetHealthAsync(CancellationToken cancellationToken);

    Task<ServerReport> GetStatsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Sends one message and streams the reply. Cancelling <paramref name="cancellationToken"/> cancels the reply
    /// (a cancel message where the protocol has one, otherwise the request is aborted), and the sequence ends.
    /// </summary>
    IAsyncEnumerable<ChatEvent> SendAsync(string? sessionId, string message, CancellationToken cancellationToken);

    /// <summary>Continues an interrupted reply after the last chunk the client has.</summary>
    IAsyncEnumerable<ChatEvent> ResumeAsync(ResumePoint resumePoint, CancellationToken cancellationToken);
}
