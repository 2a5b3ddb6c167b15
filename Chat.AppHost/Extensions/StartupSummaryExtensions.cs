using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Aspire.Hosting;

public static class StartupSummaryExtensions
{
    /// <summary>
    /// Once every resource is healthy, the AppHost's last lines say where a user goes next: the gateway's HTTP/1.1 and
    /// gRPC addresses, the web chat page and the Aspire dashboard (Aspire's own start-up lines come before them).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithStartupSummary(this IResourceBuilder<ProjectResource> gateway, string http2EndpointName)
    {
        gateway.ApplicationBuilder.Services.AddHostedService(services => new StartupSummary(
            services.GetRequiredService<ResourceNotificationService>(),
            services.GetRequiredService<DistributedApplicationModel>(),
            services.GetRequiredService<IConfiguration>(),
            services.GetRequiredService<DistributedApplicationOptions>(),
            gateway.Resource, http2EndpointName));
        return gateway;
    }

    private sealed class StartupSummary(
        ResourceNotificationService notifications,
        DistributedApplicationModel model,
        IConfiguration configuration,
        DistributedApplicationOptions options,
        ProjectResource gateway,
        string http2EndpointName) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            var started = DateTime.UtcNow;
            try
            {
                foreach (var resource in model.Resources.Where(r => r is ProjectResource or RedisServerResource))
                {
                    await notifications.WaitForResourceHealthyAsync(resource.Name, WaitBehavior.StopOnResourceUnavailable, stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (DistributedApplicationException)
            {
                return; // A resource failed to start: Aspire has said so, and the dashboard shows which.
            }

            var http = gateway.GetEndpoint("http").Url.TrimEnd('/');
            var grpc = gateway.GetEndpoint(http2EndpointName);
            var dashboard = options.DisableDashboard ? null
                : (configuration["ASPNETCORE_URLS"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            var lines = new List<string>
            {
                "",
                $"Chat is running ({(DateTime.UtcNow - started).TotalSeconds:0.0} s to healthy):",
                $"  Gateway, HTTP/1.1 (REST, NDJSON, SSE, WebSocket, gRPC-Web)   {http}",
                $"  Gateway, HTTP/2 (native gRPC, chat.ChatService)              {grpc.Host}:{grpc.Port}",
                $"  Web chat page                                                {http}/",
            };
            if (dashboard is not null)
            {
                lines.Add($"  Aspire dashboard (resources, logs, traces, metrics)          {dashboard}");
            }

            lines.Add("Press Ctrl+C to stop.");
            await Console.Out.WriteLineAsync(string.Join(Environment.NewLine, lines).AsMemory(), stoppingToken);
        }
    }
}
