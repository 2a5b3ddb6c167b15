using Chat.WebSocket.Sockets;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public static class WebSocketServiceExtensions
{
    /// <summary>The LLM service client, the /ws connection machinery, its limits and telemetry.</summary>
    public static IHostApplicationBuilder AddWebSocketChatServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebSocketChatOptions>()
            .BindConfiguration(WebSocketChatOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // UseWebSockets() reads WebSocketOptions: keep-alive pings (and the pong timeout) come from our section.
        builder.Services.AddOptions<WebSocketOptions>()
            .Configure<IOptions<WebSocketChatOptions>>((webSockets, chat) =>
            {
                webSockets.KeepAliveInterval = TimeSpan.FromSeconds(chat.Value.KeepAliveIntervalSeconds);
                webSockets.KeepAliveTimeout = chat.Value.KeepAliveTimeoutSeconds == 0
                    ? Timeout.InfiniteTimeSpan
                    : TimeSpan.FromSeconds(chat.Value.KeepAliveTimeoutSeconds);
            });

        builder.Services.AddLlmServiceClient();
        builder.Services.AddSingleton<ServerInfoProvider>();
        builder.Services.AddSingleton<ConnectionRegistry>();
        builder.Services.AddSingleton<WebSocketTelemetry>();
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddSource(WebSocketTelemetry.Name))
            .WithMetrics(metrics => metrics.AddMeter(WebSocketTelemetry.Name));

        return builder;
    }
}
