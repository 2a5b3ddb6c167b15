using Aspire.Hosting.ApplicationModel;

namespace Aspire.Hosting;

public static class H2cEndpointExtensions
{
    public const string EndpointName = "h2c";

    /// <summary>
    /// A second, proxyless endpoint "h2c" (its port in H2C_PORT) on which an HTTP transport speaks cleartext HTTP/2
    /// alone: the gateway finds it as services__&lt;name&gt;__h2c__&lt;i&gt; and multiplexes the streams it proxies to that
    /// replica over a few connections instead of one per stream (docs/performance.md, run 4). Run mode only: a published
    /// transport keeps its one port, and the gateway speaks HTTP/1.1 to it.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithH2cEndpoint(this IResourceBuilder<ProjectResource> builder) =>
        builder.ApplicationBuilder.ExecutionContext.IsRunMode
            ? builder.WithHttpEndpoint(name: EndpointName, env: "H2C_PORT", isProxied: false)
            : builder;
}
