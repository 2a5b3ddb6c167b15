using System.Net;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Aspire.Hosting;

public static class Http2HealthCheckExtensions
{
    // Prior-knowledge HTTP/2 over cleartext: what a gRPC-only Kestrel endpoint (Protocols=Http2) speaks.
    private static readonly HttpClient s_client = new(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>
    /// Aspire's WithHttpHealthCheck for an HTTP/2-only (h2c) endpoint: Aspire's own check asks in HTTP/1.1, which a
    /// gRPC service listening with Protocols=Http2 cannot answer.
    /// </summary>
    public static IResourceBuilder<T> WithHttp2HealthCheck<T>(this IResourceBuilder<T> builder, string path = "/health", string endpointName = "http")
        where T : IResourceWithEndpoints
    {
        var endpoint = builder.Resource.GetEndpoint(endpointName);
        var key = $"{builder.Resource.Name}_{endpointName}_h2c_check";
        builder.ApplicationBuilder.Services.AddHealthChecks().AddAsyncCheck(key, async cancellationToken =>
        {
            try
            {
                using var response = await s_client.GetAsync(new Uri(new Uri(endpoint.Url), path), cancellationToken);
                return response.IsSuccessStatusCode
                    ? HealthCheckResult.Healthy()
                    : HealthCheckResult.Unhealthy($"GET {path} answered {(int)response.StatusCode}.");
            }
            catch (HttpRequestException e)
            {
                return HealthCheckResult.Unhealthy($"GET {path} failed: {e.Message}");
            }
        });
        return builder.WithHealthCheck(key);
    }
}
