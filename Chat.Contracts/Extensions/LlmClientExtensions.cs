using Chat.Contracts.Llm.V1;
using Chat.Contracts.Security;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

public static class LlmClientExtensions
{
    /// <summary>The logical address of Chat.Llm.Service, resolved by service discovery (services__llm__http__0).</summary>
    public const string DefaultAddress = "http://llm";

    /// <summary>
    /// Registers the gRPC client every transport uses to reach Chat.Llm.Service: one pooled HTTP/2 handler that opens
    /// more connections past 100 streams, keep-alive pings for idle streams, deadlines and cancellation of the incoming
    /// call carried over, and no HTTP resilience handler (its timeouts would cut long streams).
    /// </summary>
    public static IHttpClientBuilder AddLlmServiceClient(this IServiceCollection services, string address = DefaultAddress)
    {
#pragma warning disable EXTEXP0001 // experimental, but the one way to take the default resilience handler off one client
        return services
            .AddGrpcClient<LlmService.LlmServiceClient>(options => options.Address = new Uri(address))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                ConnectTimeout = TimeSpan.FromSeconds(5),
            })
            .EnableCallContextPropagation(options => options.SuppressContextNotFoundErrors = true)
            // The internal credential (Llm:InternalApiKey) on every call when one is configured; see InternalCredential.
            .AddHttpMessageHandler(sp => new InternalCredentialHandler(
                sp.GetService<IConfiguration>()?[InternalCredential.ConfigurationKey] ?? ""))
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
    }
}
