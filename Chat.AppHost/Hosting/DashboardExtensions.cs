using Chat.Dashboard.Hosting;
using Chat.Dashboard.Resources;
using Microsoft.Extensions.Options;

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

        builder.Services.AddOptions<DashboardOptions>()
            .BindConfiguration(DashboardOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        if (builder.Options.RandomizePorts)
        {
            builder.Services.PostConfigure<DashboardOptions>(options => options.UiPort = options.OtlpGrpcPort = options.OtlpHttpPort = 0);
        }

        var otlp = builder.Otlp;
        // Registered before Build() adds the orchestrator, so it starts (and knows its OTLP address) before any replica.
        builder.Services.AddSingleton<RunningDashboard>();
        builder.Services.AddHostedService(services => new DashboardHostedService(
            services.GetRequiredService<IOptions<DashboardOptions>>().Value,
            services.GetRequiredService<IResourceSource>(),
            otlp,
            services.GetRequiredService<RunningDashboard>()));
        return builder;
    }
}

/// <summary>The dashboard of this AppHost once it runs (tests read its URL and OTLP endpoints here).</summary>
public sealed class RunningDashboard
{
    public DashboardApp? App { get; internal set; }
}

internal sealed class DashboardHostedService(
    DashboardOptions options, IResourceSource resources, OtlpExporterSettings otlp, RunningDashboard running) : IHostedService, IAsyncDisposable
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (otlp.Endpoint is { Length: > 0 } configured && string.IsNullOrEmpty(options.ExternalOtlpEndpoint))
        {
            options.ExternalOtlpEndpoint = configured;
            options.ExternalOtlpProtocol = otlp.Protocol;
        }

        running.App = await DashboardHost.StartAsync(options, resources, cancellationToken, logging =>
            logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "HH:mm:ss ";
            }));
        var environment = running.App.OtlpEnvironment;
        otlp.Endpoint = environment["OTEL_EXPORTER_OTLP_ENDPOINT"];
        otlp.Protocol = environment["OTEL_EXPORTER_OTLP_PROTOCOL"];
    }

    // Stopped last (hosted services stop in reverse order): the replicas' final telemetry still has somewhere to go.
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
