using System.ClientModel;
using Chat.Llm.Service.Models.Gemini;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;

namespace Chat.Llm.Service.Models;

/// <summary>Builds the configured provider's IChatClient (the OpenTelemetry pipeline is added around it by the caller).</summary>
public static class ModelProviders
{
    public const string GeminiHttpClientName = "gemini";

    public static IChatClient Create(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<LlmOptions>>().Value;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Chat.Llm.Service.Models");
        var info = services.GetRequiredService<ModelInfo>();
        Telemetry.Log.ProviderSelected(logger, info.Provider, info.DefaultModel);
        return options.Provider switch
        {
            "gemini" => new GeminiChatClient(services.GetRequiredService<IHttpClientFactory>().CreateClient(GeminiHttpClientName),
                options.Gemini, services.GetRequiredService<ILoggerFactory>().CreateLogger<GeminiChatClient>()),
            "openai" => CreateOpenAI(options.OpenAI),
            _ => new OfflineChatClient(options.Offline),
        };
    }

    private static IChatClient CreateOpenAI(OpenAIOptions options)
    {
        var clientOptions = new OpenAIClientOptions();
        if (!string.IsNullOrEmpty(options.BaseUrl))
        {
            clientOptions.Endpoint = new Uri(options.BaseUrl);
        }

        // Local OpenAI-compatible servers often take no key; the SDK insists on one.
        var credential = new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "unused" : options.ApiKey);
        return new OpenAIClient(credential, clientOptions).GetChatClient(options.ModelId).AsIChatClient();
    }
}
