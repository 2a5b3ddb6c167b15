using Chat.Transports.Shared.Hosting;
using Chat.WebSocket.Sockets;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public static class WebSocketServiceExtensions
{
    public static readonly ChatTransportDescriptor Descriptor = new()
    {
        Name = "GenAI WebSocket Multi-turn Chat API",
        Framework = ServerInfoProvider.Framework,
        Features = ServerInfoProvider.Features,
        Endpoints = new Dictionary<string, string> { ["websocket"] = $"WS {WebSocketChatApi.Path}" },
        ConnectionCounter = ConnectionCounterField.WebSocket,
        DemoPageHtml = DemoPage.Load(typeof(WebSocketChatApi).Assembly),
    };

    /// <summary>
    /// The shared HTTP routes of the original (sessions, health, stats, info, demo), the LLM service client, and the
    /// /ws connection machinery with its limits and telemetry.
    /// </summary>
    public static IHostApplicationBuilder AddWebSocketChatServices(this IHostApplicationBuilder builder)
    {
        builder.AddChatTransport(Descriptor);

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

        builder.Services.AddConversationEngine();
        builder.Services.AddSingleton<ServerInfoProvider>();
        builder.Services.AddSingleton<ConnectionRegistry>();
        builder.Services.AddSingleton<WebSocketTelemetry>();
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddSource(WebSocketTelemetry.Name))
            .WithMetrics(metrics => metrics.AddMeter(WebSocketTelemetry.Name));

        return builder;
    }
}
