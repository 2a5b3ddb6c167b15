using Chat.Transports.Shared.Hosting;

namespace Microsoft.Extensions.Hosting;

public static class RestExtensions
{
    public static readonly ChatTransportDescriptor Descriptor = new()
    {
        Name = "GenAI Multi-turn Chat API",
        Framework = "ASP.NET Core",
        Features = ["multi-turn conversations", "session management", "sessions shared with every transport"],
        Endpoints = new Dictionary<string, string> { ["chat"] = "POST /chat" },
        ConnectionCounter = ConnectionCounterField.None,
    };

    public static IHostApplicationBuilder AddRestServices(this IHostApplicationBuilder builder)
    {
        builder.AddChatTransport(Descriptor);
        return builder;
    }
}
