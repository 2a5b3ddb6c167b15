using Chat.Dashboard.Hosting;
using Chat.Dashboard.Resources;

namespace Chat.Hosting;

public static class DashboardExtensions
{
    /// <summary>
    /// Starts Chat.Dashboard (OTLP receiver + UI over the orchestrator's IResourceSource) before any resource, and
    /// points every project's OTLP exporter at it (OTEL_EXPORTER_OTLP_ENDPOINT, protocol grpc). When Otlp:Endpoint or
    /// Dashboard:ExternalOtlpEndpoint names another collector, telemetry goes there and the dashboard shows resources
    /// and console logs only. Skipped under the testing builder, as in Aspire, unless AppHost:DisableDashboard=false.
    /// </summary>
    public static DistributedApplicationBuilder AddDashboard(this DistributedApplicationBuilder builder)
    {
        if (builder.Configuration.GetValue("AppHost:DisableDashboard", builder.Options.DisableDashboard))
        {
            return builder;
        }

        var options = builder.Configuration.GetSection(DashboardOptions.SectionName).Get<DashboardOptions>() ?? new DashboardOptions();
        if (builder.Options.RandomizePorts || builder.Configuration.GetValue("AppHost:RandomizePorts", false))
        {
            options.UiPort = options.OtlpGrpcPort = options.OtlpHttpPort = 0;
        }

        // Every replica's environment is computed before the host starts, so the OTLP address is fixed now.
        DashboardHost.AssignFreePorts(options);
        var external = builder.Configuration["Otlp:Endpoint"] is { Length: > 0 } configured ? configured : options.ExternalOtlpEndpoint;
        if (string.IsNullOrEmpty(external))
        {
            builder.Otlp.Endpoint = DashboardHost.PlannedOtlpGrpcEndpoint(options).ToString().TrimEnd('/');
            builder.Otlp.Protocol = "grpc";
        }
        else
        {
            options.ExternalOtlpEndpoint = external;
            options.ExternalOtlpProtocol = builder.Configuration["Otlp:Protocol"] is { Length: > 0 } protocol ? protocol : options.ExternalOtlpProtocol;
            builder.Otlp.Endpoint = external;
            builder.Otlp.Protocol = options.ExternalOtlpProtocol;
        }

        // Registered before Build() adds the orchestrator's hosted service, so the dashboard is up before any replica.
        builder.Services.AddSingleton<RunningDashboard>();
        builder.Services.AddHostedService(services => new DashboardHostedService(
            options, services.GetRequiredService<IResourceSource>(), services.GetRequiredService<RunningDashboard>()));
        return builder;
    }
}

/// <summary>The dashboard of this AppHost once it runs (tests read its URL and OTLP endpoints here).</summary>
public sealed class RunningDashboard
{
    public DashboardApp? App { get; internal set; }
}

internal sealed class DashboardHostedService(DashboardOptions options, IResourceSource resources, RunningDashboard running)
    : IHostedService, IAsyncDisposable
{
    public async Task StartAsync(CancellationToken cancellationToken) =>
        running.App = await DashboardHost.StartAsync(options, resources, cancellationToken, logging =>
            logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "HH:mm:ss ";
            }));

    // Stopped last (hosted services stop in reverse order) and disposed with the container: the replicas' final
    // telemetry still has somewhere to go while they shut down.
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (running.App is { } app)
        {
            running.App = null;
            await app.DisposeAsync();
        }
    }
}
