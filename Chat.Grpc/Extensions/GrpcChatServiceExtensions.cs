using Chat.Grpc.Services;
using Chat.Transports.Shared.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public static class GrpcChatServiceExtensions
{
    /// <summary>The public chat.ChatService with its limits, grpc.health.v1, reflection, and the LLM service client.</summary>
    public static IHostApplicationBuilder AddGrpcChatServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GrpcChatOptions>()
            .BindConfiguration(GrpcChatOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddGrpc();
        builder.Services.AddOptions<Grpc.AspNetCore.Server.GrpcServiceOptions>()
            .Configure<IOptions<GrpcChatOptions>>((grpc, chat) => grpc.MaxReceiveMessageSize = chat.Value.MaxReceiveMessageBytes);
        builder.Services.AddGrpcReflection();
        // grpc.health.v1 reports the ASP.NET Core health checks (the same ones /health runs).
        builder.Services.AddGrpcHealthChecks();

        // The Transport section and meter the HTTP transports share: StreamWriteTimeout, chat.transport.streams.dropped.
        builder.Services.AddOptions<TransportOptions>()
            .BindConfiguration(TransportOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<ConnectionCounter>();
        builder.Services.AddSingleton<TransportTelemetry>();

        builder.Services.AddLlmServiceClient();
        builder.Services.AddConversationEngine();
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddSource(ChatGrpcService.ActivitySourceName))
            .WithMetrics(metrics => metrics.AddMeter(TransportTelemetry.Name));
        return builder;
    }

    /// <summary>chat.ChatService (also as gRPC-Web, for browsers through the gateway's HTTP/1.1 port), health, reflection.</summary>
    public static WebApplication MapGrpcChat(this WebApplication app)
    {
        app.MapGrpcService<ChatGrpcService>().EnableGrpcWeb();
        app.MapGrpcHealthChecksService().EnableGrpcWeb();
        app.MapGrpcReflectionService();
        return app;
    }
}
