using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Chat.Transports.Shared.Hosting;

/// <summary>
/// A second, HTTP/2-only (cleartext, prior knowledge) endpoint for the gateway, beside the transport's own HTTP/1.1
/// one. Over it the gateway multiplexes every stream it proxies onto a few connections: one socket read in the gateway
/// and one socket write here carry the tokens of many streams, instead of a read and a write per stream and token
/// (docs/performance.md, run 4). A cleartext endpoint that offers both HTTP/1.1 and HTTP/2 only ever answers
/// HTTP/1.1, hence a port of its own.
/// <para>
/// Its port is <c>H2C_PORT</c> (the AppHost's "h2c" endpoint), or a URL in <c>H2C_URL</c>. Kestrel then listens on the
/// URLs it would have used anyway (ASPNETCORE_URLS, else ASPNETCORE_HTTP_PORTS) for HTTP/1.1 and HTTP/2, and on that
/// one for HTTP/2 alone. Without either variable nothing changes. A deployment that spells out Kestrel:Endpoints
/// keeps its own choice.
/// </para>
/// </summary>
public static class H2cEndpointExtensions
{
    public const string PortVariable = "H2C_PORT";
    public const string UrlVariable = "H2C_URL";

    public static TBuilder AddH2cEndpoint<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (!builder.Properties.TryAdd(typeof(H2cEndpointExtensions), true))
        {
            return builder;
        }

        builder.Services.Configure<KestrelServerOptions>(kestrel =>
        {
            var configuration = builder.Configuration;
            var h2c = configuration[UrlVariable] is { Length: > 0 } url ? url
                : configuration[PortVariable] is { Length: > 0 } port ? $"http://localhost:{port}"
                : null;
            if (h2c is null || configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
            {
                return;
            }

            var endpoints = new Dictionary<string, string?>();
            var index = 0;
            foreach (var address in KestrelListenUrls.Configured(configuration, "http://localhost:5000"))
            {
                endpoints[$"Endpoints:Http{index}:Url"] = address;
                endpoints[$"Endpoints:Http{index}:Protocols"] = nameof(HttpProtocols.Http1AndHttp2);
                index++;
            }

            endpoints["Endpoints:H2c:Url"] = h2c;
            endpoints["Endpoints:H2c:Protocols"] = nameof(HttpProtocols.Http2);
            kestrel.Configure(new ConfigurationBuilder().AddInMemoryCollection(endpoints).Build(), reloadOnChange: false);
        });
        return builder;
    }
}
