using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Hosting;
using Microsoft.Extensions.Options;

namespace Chat.WebSocket.Sockets;

public static class WebSocketChatApi
{
    public const string Path = "/ws";

    /// <summary>Maps <c>/ws</c>: the original project's WebSocket chat protocol.</summary>
    public static IEndpointConventionBuilder MapWebSocketChat(this IEndpointRouteBuilder endpoints) =>
        endpoints.Map(Path, AcceptAsync).WithName("WebSocketChat");

    private static async Task AcceptAsync(
        HttpContext context,
        LlmService.LlmServiceClient llm,
        ServerInfoProvider serverInfo,
        ConnectionRegistry registry,
        ConnectionCounter counter,
        WebSocketTelemetry telemetry,
        TransportTelemetry transportTelemetry,
        IOptions<WebSocketChatOptions> options,
        IOptions<TransportOptions> transportOptions,
        ILoggerFactory loggerFactory,
        IConfiguration configuration,
        IHostEnvironment environment)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await TypedResults.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "WebSocket upgrade required",
                detail: $"Connect to {Path} with a WebSocket client.").ExecuteAsync(context);
            return;
        }

        using var activity = WebSocketTelemetry.ActivitySource.StartActivity("websocket.connection");
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var connection = new ChatConnection(
            socket,
            llm,
            serverInfo,
            options.Value,
            telemetry,
            transportTelemetry,
            transportOptions.Value,
            loggerFactory,
            context.GetChatPrincipal(),
            ServiceInstance.Describe(configuration, environment.ApplicationName));
        activity?.SetTag("chat.connection.id", connection.ConnectionId);

        registry.Add(connection);
        using var counted = counter.Open();
        telemetry.ConnectionOpened();
        try
        {
            await connection.RunAsync(context.RequestAborted);
        }
        finally
        {
            telemetry.ConnectionClosed();
            registry.Remove(connection);
        }
    }
}
