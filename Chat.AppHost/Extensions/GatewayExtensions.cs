using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

public static class GatewayExtensions
{
    public const string Http2EndpointName = "http2";

    /// <summary>
    /// The gateway with its two public endpoints on its own sockets (proxyless: no DCP proxy process in front):
    /// "http" on Gateway:HttpPort (8000) for HTTP/1.1 and "http2" on Gateway:Http2Port (50051) for cleartext HTTP/2,
    /// which the gateway reads from GATEWAY_HTTP2_URL. Under Aspire.Hosting.Testing (DcpPublisher:RandomizePorts) both
    /// ports come from Aspire's proxyless range, so a test never collides with a running copy.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddGateway<TProject>(this IDistributedApplicationBuilder builder, string name)
        where TProject : IProjectMetadata, new()
    {
        var randomize = builder.Configuration.GetValue("DcpPublisher:RandomizePorts", false);
        int? Port(string key, int fallback) => randomize ? null : builder.Configuration.GetValue(key, fallback);

        var gateway = builder.AddProject<TProject>(name, launchProfileName: null)
            .WithHttpEndpoint(port: Port("Gateway:HttpPort", 8000), name: "http", isProxied: false)
            .WithHttpEndpoint(port: Port("Gateway:Http2Port", 50051), name: Http2EndpointName, env: "GATEWAY_HTTP2_PORT", isProxied: false)
            .WithHttpHealthCheck("/health")
            .WithExternalHttpEndpoints();
        if (builder.ExecutionContext.IsRunMode)
        {
            var http2 = gateway.GetEndpoint(Http2EndpointName);
            gateway.WithBuiltOutputLaunch()
                .WithEnvironment("GATEWAY_HTTP2_URL", ReferenceExpression.Create($"http://localhost:{http2.Property(EndpointProperty.TargetPort)}"));
        }

        return gateway;
    }
}
