using Chat.Sse.Streaming;
using Chat.Transports.Shared.Hosting;

namespace Microsoft.Extensions.Hosting;

public static class SseExtensions
{
    public static IHostApplicationBuilder AddSseServices(this IHostApplicationBuilder builder)
    {
        builder.AddChatTransport(new ChatTransportDescriptor
        {
            Name = "GenAI SSE Multi-turn Chat API",
            Framework = "ASP.NET Core + SSE",
            Features = ["multi-turn conversations", "real-time streaming", "session management", "resumable streams (Last-Event-ID)"],
            Endpoints = new Dictionary<string, string>
            {
                ["chat_stream"] = "POST /chat/stream",
                ["start_turn"] = "POST /chat/turns",
                ["turn_events"] = "GET /chat/turns/{turn_id}/events",
                ["cancel_turn"] = "DELETE /chat/turns/{turn_id}",
            },
            ConnectionCounter = ConnectionCounterField.Streaming,
            DemoPageHtml = DemoPage.Load(typeof(SseExtensions).Assembly),
        });

        builder.Services.AddOptions<SseOptions>()
            .BindConfiguration(SseOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        return builder;
    }
}
