namespace Chat.Cli.Transports;

/// <summary>
/// Where each protocol lives. Behind the gateway (the default) the HTTP protocols share one address with a path
/// prefix each (<c>/rest</c>, <c>/streaming</c>, <c>/sse</c>, <c>/websocket</c>) and native gRPC has its own HTTP/2
/// port. <see cref="Direct"/> means the URL is one transport service itself, so no prefix is added.
/// </summary>
public sealed record ChatEndpoints(Uri GatewayUrl, Uri GrpcUrl, bool Direct = false)
{
    public static readonly Uri DefaultGatewayUrl = new("http://localhost:8000");
    public static readonly Uri DefaultGrpcUrl = new("http://localhost:50051");

    /// <summary>Per-protocol overrides (tests and direct runs against separate services).</summary>
    public IReadOnlyDictionary<string, Uri> Overrides { get; init; } = new Dictionary<string, Uri>();

    /// <summary>The base address of a protocol's HTTP routes, without a trailing slash.</summary>
    public Uri HttpBaseFor(string protocol)
    {
        if (Overrides.TryGetValue(protocol, out var overridden))
        {
            return overridden;
        }

        var gateway = GatewayUrl.ToString().TrimEnd('/');
        return Direct ? new Uri(gateway) : new Uri($"{gateway}/{protocol}");
    }

    public Uri WebSocketUrl
    {
        get
        {
            var builder = new UriBuilder($"{HttpBaseFor(Protocols.WebSocket).ToString().TrimEnd('/')}/ws");
            builder.Scheme = builder.Scheme == Uri.UriSchemeHttps ? "wss" : "ws";
            return builder.Uri;
        }
    }
}
