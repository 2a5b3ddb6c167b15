using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

// Aspire 13's ServiceDefaults template (aspire-servicedefaults/Extensions.cs), method for method: AddServiceDefaults,
// ConfigureOpenTelemetry, AddDefaultHealthChecks, MapDefaultEndpoints. Where ours differs, and why
// (docs/conventions.md, "Service defaults"):
// - two tiers, as eShop: AddBasicServiceDefaults (telemetry, health, Kestrel limits) for every service, and
//   AddServiceDefaults on top (service discovery, resilient outgoing HTTP);
// - /health and /alive are mapped in every environment, not only Development: the AppHost, the gateway's active health
//   checks and Kubernetes probe them, and /health is also the original project's public API;
// - what is not traced is decided at the source (TraceSampling): probes, and everything they cause in this service and
//   the next; the gRPC client is instrumented too (every hop to llm is gRPC);
// - Kestrel's connection limits are set explicitly (ConfigureKestrelLimits).
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";

    /// <summary>Telemetry, health checks, service discovery and resilient outgoing HTTP.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddBasicServiceDefaults();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Standard resilience has a 30 s total timeout: streaming clients (gRPC to the LLM service, proxies)
            // opt out with RemoveAllResilienceHandlers() on their own registration.
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    /// <summary>Telemetry and health checks only (for processes that call nobody by name).</summary>
    public static TBuilder AddBasicServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.ConfigureKestrelLimits();
        builder.ConfigureInlineIo();
        return builder;
    }

    /// <summary>
    /// The connection limits every service shares (docs/reliability.md), set explicitly rather than left to whatever
    /// the framework's defaults become: slow-loris clients are cut off (headers must arrive within 10 s, bodies and
    /// responses must move at 240 B/s after a 5 s grace, so a client that never reads a stream is dropped), header
    /// floods get 431, and an HTTP/2 connection carries at most 100 concurrent streams. <c>Kestrel:Limits</c> in
    /// configuration overrides the scalar values.
    /// </summary>
    public static TBuilder ConfigureKestrelLimits<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.Configure<KestrelServerOptions>(kestrel =>
        {
            var limits = kestrel.Limits;
            limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            limits.KeepAliveTimeout = TimeSpan.FromSeconds(130);
            limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));
            limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));
            limits.MaxRequestHeaderCount = 100;
            limits.MaxRequestHeadersTotalSize = 32 * 1024;
            limits.MaxRequestLineSize = 8 * 1024;
            limits.Http2.MaxStreamsPerConnection = 100;
            limits.Http2.MaxRequestHeaderFieldSize = 16 * 1024;
            builder.Configuration.GetSection("Kestrel:Limits").Bind(limits);
        });
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation())
            .WithTracing(tracing => tracing
                .SetSampler(TraceSampling.CreateSampler(builder.Configuration))
                .AddSource(builder.Environment.ApplicationName)
                .AddAspNetCoreInstrumentation(options =>
                    // Not recorded; with the sampler, nothing under a probe is either.
                    options.Filter = context => !TraceSampling.IsProbe(context.Request.Path))
                // The HTTP span under each gRPC client span is kept: filtering it out would still propagate its
                // (unrecorded, unsampled) span id downstream and orphan the server span of the next service.
                .AddGrpcClientInstrumentation()
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            // Add a default liveness check to ensure app is responsive
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        return builder;
    }

    /// <summary>
    /// Maps /health (ready: every check passes) and /alive (live: the "live" checks). A service whose public API
    /// owns the /health route (the original project's JSON shape) passes its own writer, so the route stays the probe.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, Func<HttpContext, HealthReport, Task>? healthWriter = null)
    {
        var health = new HealthCheckOptions();
        if (healthWriter is not null)
        {
            health.ResponseWriter = healthWriter;
        }

        // All health checks must pass for app to be considered ready to accept traffic after starting
        app.MapHealthChecks(HealthEndpointPath, health);

        // Only health checks tagged with the "live" tag must pass for app to be considered alive
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = r => r.Tags.Contains("live") });
        return app;
    }
}
