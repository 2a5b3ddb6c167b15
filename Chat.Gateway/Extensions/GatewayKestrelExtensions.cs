using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The gateway's two public ports. Cleartext HTTP/2 (native gRPC without TLS) only works on a Kestrel endpoint that
/// speaks HTTP/2 alone — a cleartext Http1AndHttp2 endpoint always answers HTTP/1.1 — so the gateway listens twice:
/// HTTP/1.1 at ASPNETCORE_URLS (default 8000) and HTTP/2 with prior knowledge at GATEWAY_HTTP2_URL (default 50051).
/// </summary>
public static class GatewayKestrelExtensions
{
    public const string Http2UrlKey = "GATEWAY_HTTP2_URL";
    public const string DefaultHttp1Url = "http://+:8000";
    public const string DefaultHttp2Url = "http://+:50051";

    public static WebApplicationBuilder AddGatewayKestrel(this WebApplicationBuilder builder)
    {
        // Read when Kestrel starts, not now, so every configuration source (including test hosts) has been added.
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var configuration = context.Configuration;

            // A deployment that spells out Kestrel:Endpoints itself (TLS, more ports) keeps its own choice.
            if (configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
            {
                return;
            }

            var endpoints = new Dictionary<string, string?>();
            var index = 0;
            foreach (var url in KestrelListenUrls.Configured(configuration, DefaultHttp1Url))
            {
                endpoints[$"Endpoints:Http{index}:Url"] = url;
                endpoints[$"Endpoints:Http{index}:Protocols"] = "Http1";
                index++;
            }

            endpoints["Endpoints:Http2:Url"] = configuration[Http2UrlKey] is { Length: > 0 } http2Url ? http2Url : DefaultHttp2Url;
            endpoints["Endpoints:Http2:Protocols"] = "Http2";

            kestrel.Configure(new ConfigurationBuilder().AddInMemoryCollection(endpoints).Build(), reloadOnChange: false);
        });

        return builder;
    }
}
