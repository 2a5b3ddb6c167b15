using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Chat.Transports.Shared.Health;

/// <summary>Writes the health report as the original's <c>GET /health</c> body, so /health stays both the probe and the API.</summary>
public static class ChatHealthWriter
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var services = context.RequestServices;
        var transport = services.GetRequiredService<TransportRuntime>();
        var stats = report.Entries.TryGetValue(LlmServiceHealthCheck.Name, out var entry)
            && entry.Data.TryGetValue(LlmServiceHealthCheck.StatsKey, out var data)
            ? data as ServerStats
            : null;

        var body = new HealthResponse(
            Status: report.Status switch
            {
                HealthStatus.Healthy => "healthy",
                HealthStatus.Degraded => "degraded",
                _ => "unhealthy",
            },
            Model: stats?.Model ?? transport.FallbackModel,
            UptimeSeconds: (long)(stats?.UptimeSeconds ?? transport.Uptime.TotalSeconds),
            TotalRequests: stats?.TotalTurns ?? 0,
            SuccessfulRequests: stats?.SucceededTurns ?? 0,
            FailedRequests: stats?.FailedTurns ?? 0,
            ActiveSessions: stats?.ActiveSessions ?? 0)
        {
            StreamingConnections = transport.StreamingConnections,
            WebsocketConnections = transport.WebSocketConnections,
            LlmService = stats is null ? "unreachable" : "reachable",
            Instance = transport.Instance,
        };

        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Json(body, transport.JsonOptions, statusCode: context.Response.StatusCode).ExecuteAsync(context);
    }
}
