using Chat.Dashboard.Hosting;
using Chat.Dashboard.Otlp;
using Chat.Dashboard.Resources;
using Chat.Dashboard.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Dashboard.Api;

internal static class DashboardServiceExtensions
{
    public static IServiceCollection AddDashboardServices(this IServiceCollection services, DashboardOptions options, IResourceSource resources, DashboardAccess access)
    {
        services.AddSingleton(options);
        services.AddSingleton(options.TelemetryLimits);
        services.AddSingleton(resources);
        services.AddSingleton(access);
        services.AddSingleton<TelemetryStore>();
        services.AddSingleton<OtlpConverter>();
        services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = 64 * 1024 * 1024;
            grpc.EnableDetailedErrors = false;
        });
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(json =>
            json.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull);
        return services;
    }
}
