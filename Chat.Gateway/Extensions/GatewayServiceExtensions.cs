using Chat.Gateway;
using Chat.Gateway.Proxy;
using Chat.Gateway.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Instrumentation.AspNetCore;
using OpenTelemetry.Metrics;
using Yarp.ReverseProxy.Health;

namespace Microsoft.Extensions.Hosting;

public static class GatewayServiceExtensions
{
    public const string ReverseProxySection = "ReverseProxy";

    /// <summary>
    /// YARP with routes and clusters from the ReverseProxy section, each cluster's logical destination (http://sse)
    /// expanded by service discovery into one destination per replica (services__sse__http__0, __1, …).
    /// </summary>
    public static WebApplicationBuilder AddGatewayServices(this WebApplicationBuilder builder)
    {
        builder.AddGatewayKestrel();
        builder.AddGatewayUpstreamHttp2();

        builder.Services.AddOptions<GatewayOptions>()
            .BindConfiguration(GatewayOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<CallerRateLimiter>();
        builder.Services.AddSingleton<CallerStreamLimiter>();
        builder.Services.AddSingleton<ProxyFailureResponder>();
        builder.Services.AddSingleton<GatewayTelemetry>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(GatewayTelemetry.MeterName));
        // The root span of every chat's trace says what the caller did (POST /rest/chat), not the YARP route's template.
        builder.Services.Configure<AspNetCoreTraceInstrumentationOptions>(options => options.EnrichWithHttpResponse = GatewaySpanNames.Enrich);

        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection(ReverseProxySection))
            .AddServiceDiscoveryDestinationResolver()
            .AddTransforms<GatewayTransformProvider>();
        builder.Services.AddSingleton<IPassiveHealthCheckPolicy, DestinationFailuresHealthPolicy>();

        builder.AddGatewayAuthentication();
        builder.AddGatewayCors();

        return builder;
    }
}
