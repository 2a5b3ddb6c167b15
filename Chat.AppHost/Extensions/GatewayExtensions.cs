using System.Net;
using System.Net.Sockets;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Eventing;
using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

public static class GatewayExtensions
{
    public const string Http2EndpointName = "http2";

    /// <summary>
    /// The gateway with its two public endpoints on its own sockets (proxyless: no DCP proxy process in front):
    /// "http" on Gateway:HttpPort (8000) for HTTP/1.1 and "http2" on Gateway:Http2Port (50051) for cleartext HTTP/2,
    /// which the gateway reads from GATEWAY_HTTP2_URL. Under Aspire.Hosting.Testing (DcpPublisher:RandomizePorts) both
    /// ports come from Aspire's proxyless range, so a test never collides with a running copy; published, they are
    /// always the configured ones, the gateway's public contract.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddGateway<TProject>(this IDistributedApplicationBuilder builder, string name)
        where TProject : IProjectMetadata, new()
    {
        var randomize = builder.ExecutionContext.IsRunMode && builder.Configuration.GetValue("DcpPublisher:RandomizePorts", false);
        int? Port(string key, int fallback) => randomize ? null : builder.Configuration.GetValue(key, fallback);

        var gateway = builder.AddProject<TProject>(name, launchProfileName: null)
            .WithHttpEndpoint(port: Port("Gateway:HttpPort", 8000), name: "http", isProxied: false)
            .WithHttpEndpoint(port: Port("Gateway:Http2Port", 50051), name: Http2EndpointName, env: "GATEWAY_HTTP2_PORT", isProxied: false)
            // Cleartext HTTP/2 with prior knowledge: manifests and Services say so (appProtocol kubernetes.io/h2c).
            .WithEndpoint(Http2EndpointName, endpoint => endpoint.Transport = "http2")
            .WithHttpHealthCheck("/health")
            .WithExternalHttpEndpoints()
            .WithUrlForEndpoint("http", url => url.DisplayText = "HTTP/1.1 + web chat")
            .WithUrlForEndpoint(Http2EndpointName, url => url.DisplayText = "gRPC (HTTP/2)");
        if (builder.ExecutionContext.IsRunMode)
        {
            // Checked before anything starts: a taken public port is a message, not a crash loop of the gateway.
            builder.Eventing.Subscribe<BeforeStartEvent>((_, _) =>
            {
                foreach (var endpoint in gateway.Resource.Annotations.OfType<EndpointAnnotation>().Where(e => e.Port is not null))
                {
                    EnsurePortIsFree(endpoint.Port!.Value, $"{name} {endpoint.Name}",
                        endpoint.Name == "http" ? "--Gateway:HttpPort=<port>" : "--Gateway:Http2Port=<port>");
                }

                return Task.CompletedTask;
            });

            var http2 = gateway.GetEndpoint(Http2EndpointName);
            gateway.WithBuiltOutputLaunch()
                .WithoutDevelopmentCertificate()
                .WithEnvironment("GATEWAY_HTTP2_URL", ReferenceExpression.Create($"http://localhost:{http2.Property(EndpointProperty.TargetPort)}"));
        }
        else
        {
            // Published, the container listens on every interface (Aspire's own HTTP_PORTS means the same for "http").
            var http2 = gateway.GetEndpoint(Http2EndpointName);
            gateway.WithEnvironment("GATEWAY_HTTP2_URL", ReferenceExpression.Create($"http://+:{http2.Property(EndpointProperty.TargetPort)}"));
        }

        return gateway;
    }

    private static void EnsurePortIsFree(int port, string what, string option)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new DistributedApplicationException(
                $"Port {port} ({what}) is in use: stop what is using it (e.g. `ss -ltnp 'sport = :{port}'` shows it) or choose another port ({option}).");
        }
    }
}
