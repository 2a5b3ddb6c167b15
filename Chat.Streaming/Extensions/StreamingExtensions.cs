using Chat.Transports.Shared.Hosting;

namespace Microsoft.Extensions.Hosting;

public static class StreamingExtensions
{
    public static IHostApplicationBuilder AddStreamingServices(this IHostApplicationBuilder builder)
    {
        builder.AddChatTransport(new ChatTransportDescriptor
        {
            Name = "GenAI Streamable HTTP Multi-turn Chat API",
            Framework = "ASP.NET Core + NDJSON",
            Features = ["multi-turn conversations", "real-time streaming", "session management", "NDJSON protocol"],
            Endpoints = new Dictionary<string, string> { ["chat_stream"] = "POST /chat/stream" },
            ConnectionCounter = ConnectionCounterField.Streaming,
            DemoPageHtml = DemoPage.Load(typeof(StreamingExtensions).Assembly),
        });
        return builder;
    }
}
