using Chat.Conversation.Engine;
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
        ConversationServices conversations,
        ServerInfoProvider serverInfo,
        ConnectionRegistry registry,
        ConnectionCounter counter,
        WebSocketTelemetry telemetry,
        IOptions<WebSocketChatOptions> options,
        ILoggerFactory loggerFactory)
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
            conversations,
            serverInfo,
            options.Value,
            telemetry,
            loggerFactory,
            context.GetChatPrincipal(),
            // The upgrade request's flag holds for the whole connection.
            strictSessions: StrictSession.IsRequested(context.Request));
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
