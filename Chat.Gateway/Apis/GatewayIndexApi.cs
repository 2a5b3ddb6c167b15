using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Hosting;

namespace Chat.Gateway.Apis;

/// <summary>One public transport as the index lists it; links are absolute, built from the caller's own Host.</summary>
public sealed record TransportLink(string Name, string Protocol, string BaseUrl, string? Docs, string? Demo, string? Notes);

public sealed record GatewayIndex(string Name, string Description, IReadOnlyList<TransportLink> Transports, string Health);

/// <summary>
/// GET / — what this gateway serves: JSON for API clients, the web chat page for browsers (Accept: text/html;
/// <c>?format=json</c> asks for the JSON from a browser).
/// </summary>
public static class GatewayIndexApi
{
    public static RouteHandlerBuilder MapGatewayIndex(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/", GetIndex).WithName("GatewayIndex");

    private static Results<Ok<GatewayIndex>, FileContentHttpResult> GetIndex(HttpRequest request, HttpResponse response, IConfiguration configuration)
    {
        if (AcceptsHtml(request) && request.Query["format"] != "json")
        {
            response.Headers.CacheControl = "no-cache";
            return WebChatPage.Index;
        }

        return TypedResults.Ok(Describe(request, configuration));
    }

    public static GatewayIndex Describe(HttpRequest request, IConfiguration configuration)
    {
        var origin = $"{request.Scheme}://{request.Host}{request.PathBase}";
        var grpcAuthority = $"{request.Host.Host}:{Http2Port(configuration)}";
        TransportLink[] transports =
        [
            new("rest", "REST: JSON request/response (POST /chat)", $"{origin}/rest", $"{origin}/rest/docs", null, null),
            new("streaming", "Streamable HTTP: NDJSON (POST /chat/stream)", $"{origin}/streaming", $"{origin}/streaming/docs",
                $"{origin}/streaming/demo", null),
            new("sse", "Server-Sent Events (POST /chat/stream)", $"{origin}/sse", $"{origin}/sse/docs", $"{origin}/sse/demo", null),
            new("websocket", "WebSocket (/ws)", $"{origin.Replace("http", "ws", StringComparison.Ordinal)}/websocket/ws",
                $"{origin}/websocket/docs", $"{origin}/websocket/demo", null),
            new("grpc", "gRPC: chat.ChatService over HTTP/2 (h2c)", grpcAuthority, null, null,
                $"gRPC-Web over HTTP/1.1 at {origin}/grpc (or the bare service path); health and reflection enabled"),
        ];
        return new GatewayIndex("chat-gateway", "Multi-turn GenAI chat over five transports", transports, $"{origin}{Extensions.HealthEndpointPath}");
    }

    private static bool AcceptsHtml(HttpRequest request) =>
        request.GetTypedHeaders().Accept.Any(value => value.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase));

    private static int Http2Port(IConfiguration configuration)
    {
        var url = configuration[GatewayKestrelExtensions.Http2UrlKey] is { Length: > 0 } configured
            ? configured
            : GatewayKestrelExtensions.DefaultHttp2Url;
        // Kestrel's wildcard hosts (+, *) are not valid URI hosts; only the port matters here.
        return Uri.TryCreate(url.Replace("://+", "://any", StringComparison.Ordinal).Replace("://*", "://any", StringComparison.Ordinal),
            UriKind.Absolute, out var uri) ? uri.Port : 50051;
    }

}
