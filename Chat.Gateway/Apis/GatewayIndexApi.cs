using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Hosting;

namespace Chat.Gateway.Apis;

/// <summary>One public transport as the index lists it; links are absolute, built from the caller's own Host.</summary>
public sealed record TransportLink(string Name, string Protocol, string BaseUrl, string? Docs, string? Demo, string? Notes);

public sealed record GatewayIndex(string Name, string Description, IReadOnlyList<TransportLink> Transports, string Health);

/// <summary>
/// GET / — what this gateway serves: JSON for API clients, a small HTML page for browsers (Accept: text/html).
/// The web chat page of a later issue takes over the HTML side.
/// </summary>
public static class GatewayIndexApi
{
    public static RouteHandlerBuilder MapGatewayIndex(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/", GetIndex).WithName("GatewayIndex");

    private static Results<Ok<GatewayIndex>, ContentHttpResult> GetIndex(HttpRequest request, IConfiguration configuration)
    {
        var index = Describe(request, configuration);
        return AcceptsHtml(request)
            ? TypedResults.Content(RenderHtml(index), "text/html; charset=utf-8")
            : TypedResults.Ok(index);
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

    private static string RenderHtml(GatewayIndex index)
    {
        var rows = new StringBuilder();
        foreach (var transport in index.Transports)
        {
            rows.Append("<tr><td>").Append(Encode(transport.Name)).Append("</td><td>").Append(Encode(transport.Protocol))
                .Append("</td><td><code>").Append(Encode(transport.BaseUrl)).Append("</code></td><td>")
                .Append(Link(transport.Docs, "docs")).Append(' ').Append(Link(transport.Demo, "demo"))
                .Append(transport.Notes is null ? "" : $"<br><small>{Encode(transport.Notes)}</small>")
                .Append("</td></tr>\n");
        }

        return $$"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{Encode(index.Name)}}</title>
            <style>
              body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1f2328; }
              table { border-collapse: collapse; width: 100%; }
              th, td { text-align: left; padding: .5rem; border-bottom: 1px solid #d0d7de; vertical-align: top; }
              code { font-size: .9em; }
            </style>
            </head>
            <body>
            <h1>{{Encode(index.Name)}}</h1>
            <p>{{Encode(index.Description)}}. One entry for every transport; the same list is JSON for API clients.</p>
            <table>
            <thead><tr><th>Transport</th><th>Protocol</th><th>Base URL</th><th>Links</th></tr></thead>
            <tbody>
            {{rows}}</tbody>
            </table>
            <p><a href="{{Encode(index.Health)}}">health</a></p>
            </body>
            </html>
            """;
    }

    private static string Link(string? href, string text) =>
        href is null ? "" : $"<a href=\"{Encode(href)}\">{Encode(text)}</a>";

    private static string Encode(string value) => WebUtility.HtmlEncode(value);
}
