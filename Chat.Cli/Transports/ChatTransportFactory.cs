namespace Chat.Cli.Transports;

/// <summary>Creates the transport for a protocol name; the REPL calls it again on <c>/protocol</c> and <c>/strict</c>.</summary>
public sealed class ChatTransportFactory(ChatEndpoints endpoints, TimeSpan? requestTimeout = null, ReconnectPolicy? reconnect = null, bool strictSession = false)
{
    public ChatEndpoints Endpoints { get; } = endpoints;

    /// <summary>Transports created from now on send the strict-session flag with every chat message.</summary>
    public bool StrictSession { get; set; } = strictSession;

    public IChatTransport Create(string protocol)
    {
        var timeout = requestTimeout ?? TimeSpan.FromSeconds(100);
        return Protocols.Normalize(protocol) switch
        {
            Protocols.Rest => new RestTransport(Endpoints.HttpBaseFor(Protocols.Rest), timeout, StrictSession),
            Protocols.Streaming => new StreamingTransport(Endpoints.HttpBaseFor(Protocols.Streaming), timeout, StrictSession),
            Protocols.Sse => new SseTransport(Endpoints.HttpBaseFor(Protocols.Sse), timeout, reconnect, StrictSession),
            Protocols.WebSocket => new WebSocketTransport(Endpoints.HttpBaseFor(Protocols.WebSocket), Endpoints.WebSocketUrl, timeout, reconnect, StrictSession),
            // ChatService has no "clear history" RPC: /reset over gRPC uses the REST route of the same (shared) session.
            Protocols.Grpc => new GrpcTransport(Endpoints.GrpcUrl, Endpoints.HttpBaseFor(Protocols.Rest), timeout, reconnect, StrictSession),
            _ => throw new ChatTransportException(ChatErrorKind.InvalidArgument,
                $"Unknown protocol '{protocol}'. Use one of: {string.Join(", ", Protocols.All)}."),
        };
    }
}
