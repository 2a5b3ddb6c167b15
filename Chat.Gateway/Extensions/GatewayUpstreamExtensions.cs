using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// HTTP/2 to the transports that offer it. A transport replica with an "h2c" endpoint (services__sse__h2c__0, …: the
/// AppHost gives every HTTP transport one) is reached over cleartext HTTP/2 there, so the streams the gateway proxies
/// to it share a few multiplexed connections: one socket read in the gateway carries the tokens of many streams
/// (docs/performance.md, run 4). A transport without one keeps HTTP/1.1. <c>Gateway:UpstreamHttp2=false</c> turns it
/// off (to compare).
/// </summary>
public static class GatewayUpstreamExtensions
{
    public const string SettingKey = "Gateway:UpstreamHttp2";

    public static WebApplicationBuilder AddGatewayUpstreamHttp2(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (!configuration.GetValue(SettingKey, true))
        {
            return builder;
        }

        var overrides = new Dictionary<string, string?>();
        foreach (var cluster in configuration.GetSection($"{GatewayServiceExtensions.ReverseProxySection}:Clusters").GetChildren())
        {
            if (!configuration.GetSection($"services:{cluster.Key}:h2c").Exists())
            {
                continue;
            }

            foreach (var destination in cluster.GetSection("Destinations").GetChildren())
            {
                // The logical address (http://sse) names the service; "_h2c." picks its h2c endpoint in service discovery.
                if (Uri.TryCreate(destination["Address"], UriKind.Absolute, out var address) && address.Host == cluster.Key)
                {
                    overrides[$"{destination.Path}:Address"] = $"{address.Scheme}://_h2c.{address.Host}{address.PathAndQuery}";
                }
            }

            overrides[$"{cluster.Path}:HttpRequest:Version"] = "2";
            overrides[$"{cluster.Path}:HttpRequest:VersionPolicy"] = "RequestVersionExact";
        }

        configuration.AddInMemoryCollection(overrides);
        return builder;
    }
}
