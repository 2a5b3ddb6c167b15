using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Models;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Chat.Transports.Shared.Apis;

/// <summary><c>GET /</c> (service info), <c>GET /stats</c> and <c>GET /demo</c>, as the original served them.</summary>
public static class ServiceInfoApi
{
    private static readonly Dictionary<string, string> SharedEndpoints = new()
    {
        ["new_session"] = "POST /sessions/new",
        ["session_info"] = "GET /sessions/{session_id}",
        ["delete_session"] = "DELETE /sessions/{session_id}",
        ["clear_session"] = "POST /sessions/{session_id}/clear",
        ["list_sessions"] = "GET /sessions",
        ["health"] = "GET /health",
        ["stats"] = "GET /stats",
        ["docs"] = "GET /docs",
        ["openapi"] = "GET /openapi/v1.json",
    };

    public static IEndpointRouteBuilder MapChatServiceInfoApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("").WithTags("Service");

        group.MapGet("/", GetServiceInfo).WithSummary("What this service is and its routes");
        group.MapGet("/stats", GetStats).WithSummary("Chat statistics (shared by every transport) and this replica's connections");

        var descriptor = endpoints.ServiceProvider.GetRequiredService<ChatTransportDescriptor>();
        if (descriptor.DemoPageHtml is { } html)
        {
            group.MapGet("/demo", () => TypedResults.Content(html, "text/html; charset=utf-8"))
                .WithSummary("A small page that chats over this transport")
                .ExcludeFromDescription();
        }

        return endpoints;
    }

    public static async Task<Ok<ServiceInfoResponse>> GetServiceInfo(
        HttpContext context,
        TransportRuntime runtime,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options)
    {
        var descriptor = runtime.Descriptor;
        var endpoints = new Dictionary<string, string>(descriptor.Endpoints);
        foreach (var (name, route) in SharedEndpoints)
        {
            endpoints.TryAdd(name, route);
        }

        if (descriptor.DemoPageHtml is not null)
        {
            endpoints.TryAdd("demo", "GET /demo");
        }

        // The model is the LLM service's; this page still answers (with a fallback name) when that service is down.
        string model;
        try
        {
            model = (await llm.GetStatsAsync(new GetStatsRequest(), options.Value.Unary(context.RequestAborted))).Model;
        }
        catch (RpcException)
        {
            model = runtime.FallbackModel;
        }

        return TypedResults.Ok(new ServiceInfoResponse(descriptor.Name, descriptor.Version, descriptor.Framework, model, descriptor.Features, endpoints)
        {
            Instance = runtime.Instance,
        });
    }

    public static async Task<Ok<StatsResponse>> GetStats(
        HttpContext context,
        TransportRuntime runtime,
        TransportTelemetry telemetry,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options)
    {
        var stats = await llm.GetStatsAsync(new GetStatsRequest(), options.Value.Unary(context.RequestAborted));
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new StatsResponse(
            UptimeSeconds: (long)stats.UptimeSeconds,
            TotalRequests: stats.TotalTurns,
            SuccessfulRequests: stats.SucceededTurns,
            FailedRequests: stats.FailedTurns,
            AverageResponseTime: Math.Round(stats.AverageLatencySeconds, 3),
            Model: stats.Model,
            StartTime: stats.StartedAt.ToOffset(DateTimeOffset.UtcNow - runtime.Uptime),
            ActiveSessions: stats.ActiveSessions,
            TotalSessionsCreated: stats.SessionsCreated)
        {
            StreamingConnections = runtime.StreamingConnections,
            WebsocketConnections = runtime.WebSocketConnections,
            TotalConnections = runtime.TotalConnections,
            StreamsDropped = runtime.TotalConnections is null ? null : telemetry.StreamsDropped,
            Provider = stats.Provider,
            Instance = runtime.Instance,
            LlmInstance = stats.InstanceId,
        });
    }
}
