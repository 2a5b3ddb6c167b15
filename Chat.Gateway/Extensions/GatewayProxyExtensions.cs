using Chat.Gateway.Proxy;
using Chat.Gateway.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

public static class GatewayProxyExtensions
{
    /// <summary>
    /// The proxied routes: a known caller when API keys are configured, the caller's rate limit and stream cap, then YARP's own
    /// steps (affinity, load balancing, passive health) that a custom proxy pipeline has to name. Outermost, the answer
    /// in the caller's protocol when the request could not be forwarded (YARP alone sends a bare 502/503).
    /// </summary>
    public static ReverseProxyConventionBuilder MapGatewayProxy(this WebApplication app)
    {
        var failures = app.Services.GetRequiredService<ProxyFailureResponder>();
        var rateLimiter = app.Services.GetRequiredService<CallerRateLimiter>();
        var streamLimiter = app.Services.GetRequiredService<CallerStreamLimiter>();
        return app.MapReverseProxy(proxy =>
        {
            proxy.Use((context, next) => failures.InvokeAsync(context, () => next()));
            proxy.Use((context, next) => rateLimiter.InvokeAsync(context, () => next()));
            proxy.Use((context, next) => streamLimiter.InvokeAsync(context, () => next()));
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        }).RequireCaller();
    }

    /// <summary>Browsers may call from the configured origins only; none configured, no CORS headers at all.</summary>
    public static WebApplicationBuilder AddGatewayCors(this WebApplicationBuilder builder)
    {
        builder.Services.AddCors();
        builder.Services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<Microsoft.Extensions.Options.IOptions<Chat.Gateway.GatewayOptions>>((cors, gateway) =>
            {
                if (gateway.Value.Cors.AllowedOrigins is { Length: > 0 } origins)
                {
                    cors.AddDefaultPolicy(policy => policy
                        .WithOrigins(origins)
                        .AllowAnyMethod()
                        .AllowAnyHeader()
                        .WithExposedHeaders("grpc-status", "grpc-message", "X-Served-By", "Retry-After",
                            CallerRateLimiter.LimitHeader, CallerRateLimiter.RemainingHeader));
                }
            });
        return builder;
    }
}
