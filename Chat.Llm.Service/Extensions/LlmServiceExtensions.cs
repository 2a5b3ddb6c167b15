using Chat.Llm.Service.Grpc;
using Chat.Llm.Service.Models;
using Chat.Llm.Service.Sessions;
using Chat.Llm.Service.Telemetry;
using Chat.Llm.Service.Turns;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

public static class LlmServiceExtensions
{
    /// <summary>Options, Redis, the model provider, the turn machinery, gRPC (with reflection and grpc.health.v1), telemetry.</summary>
    public static WebApplicationBuilder AddLlmServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;

        // HTTP/2 only (h2c), as appsettings.json says; also when started from a folder without that file.
        if (builder.Configuration["Kestrel:EndpointDefaults:Protocols"] is null)
        {
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = HttpProtocols.Http2));
        }
        services.AddOptions<LlmOptions>()
            .BindConfiguration(LlmOptions.SectionName)
            .PostConfigure<IConfiguration>(ApplyEnvironmentConventions)
            .ValidateDataAnnotations()
            .Validate(o => o.Provider != "gemini" || !string.IsNullOrEmpty(o.Gemini.ApiKey),
                "Llm:Provider is gemini but no key is set (GEMINI_API_KEY, GOOGLE_API_KEY or Llm:Gemini:ApiKey)")
            .Validate(o => o.Provider != "openai" || !string.IsNullOrEmpty(o.OpenAI.ApiKey) || !string.IsNullOrEmpty(o.OpenAI.BaseUrl),
                "Llm:Provider is openai but neither Llm:OpenAI:ApiKey nor Llm:OpenAI:BaseUrl is set")
            .ValidateOnStart();

        builder.AddRedis();
        builder.AddModelProvider();

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new ReplicaInfo(ServiceInstance.InstanceId(builder.Configuration)));
        services.AddSingleton<LlmTelemetry>();
        services.AddSingleton<RedisSessionStore>();
        services.AddSingleton<TurnRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<TurnRegistry>());
        services.AddSingleton<RedisHousekeeping>();
        services.AddSingleton<TurnBufferFlusher>();
        services.AddSingleton<TurnService>();
        services.AddSingleton<TurnResumer>();

        services.AddGrpc(options =>
        {
            options.EnableDetailedErrors = builder.Environment.IsDevelopment();
            // First: an unauthenticated caller learns nothing, not even whether Redis is up.
            options.Interceptors.Add<InternalCredentialInterceptor>();
            options.Interceptors.Add<StoreUnavailableInterceptor>();
        });
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks();

        // Redis commands are traced by Aspire.StackExchange.Redis (AddRedisClient).
        services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddSource(LlmTelemetry.ActivitySourceName, LlmTelemetry.GenAiSourceName))
            .WithMetrics(metrics => metrics.AddMeter(LlmTelemetry.MeterName, LlmTelemetry.GenAiSourceName));
        return builder;
    }

    public static WebApplication MapLlmApi(this WebApplication app)
    {
        app.MapGrpcService<LlmGrpcService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }

    /// <summary>
    /// Aspire's Redis client (ConnectionStrings:redis): the multiplexer, a span for every command, and its health check
    /// ("StackExchange.Redis", part of /health). Ours on top: the service starts, and keeps reconnecting, while Redis is
    /// down, and calls fail fast with UNAVAILABLE meanwhile (StoreUnavailableInterceptor).
    /// </summary>
    private static void AddRedis(this IHostApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString("redis")))
        {
            throw new InvalidOperationException("ConnectionStrings:redis is not set (ConnectionStrings__redis).");
        }

        builder.AddRedisClient("redis", configureOptions: options => options.AbortOnConnectFail = false);
        builder.Services.AddSingleton(sp => new RedisKeys(sp.GetRequiredService<IOptions<LlmOptions>>().Value.Sessions.KeyPrefix));
    }

    private static void AddModelProvider(this IHostApplicationBuilder builder)
    {
        // Gemini retries on its own terms (RetryInfo), and the standard resilience handler's 30 s timeout would cut
        // long streams: this client takes none of the defaults' handlers.
#pragma warning disable EXTEXP0001 // experimental, but the one way to take the default resilience handler off one client
        builder.Services.AddHttpClient(ModelProviders.GeminiHttpClientName, (sp, http) =>
                http.Timeout = TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<LlmOptions>>().Value.Gemini.TimeoutSeconds))
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        builder.Services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<LlmOptions>>().Value;
            return options.Provider switch
            {
                "gemini" => new ModelInfo("gemini", options.Gemini.ModelId),
                "openai" => new ModelInfo("openai", options.OpenAI.ModelId),
                _ => new ModelInfo(OfflineChatClient.ProviderName, options.Offline.ModelId),
            };
        });
        // The model call's span (gen_ai.*: what the Aspire dashboard's GenAI view lists), with the first token marked
        // on it by the client inside it. Message content only when opted in (CaptureMessageContent).
        var captureContent = CaptureMessageContent(builder);
        builder.Services.AddChatClient(sp => ModelProviders.Create(sp))
            .UseOpenTelemetry(sourceName: LlmTelemetry.GenAiSourceName, configure: otel => otel.EnableSensitiveData = captureContent)
            .Use(inner => new FirstTokenTelemetryChatClient(inner));
    }

    /// <summary>
    /// Prompts and replies go on the model call's span only when asked for: <c>Llm:EnableSensitiveTelemetry</c>
    /// (true or false) decides when set; unset, they do in Development when
    /// <c>OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true</c>, which the Aspire AppHost sets for its resources
    /// when it runs in Development, so the dashboard's GenAI view shows them there and nowhere else.
    /// </summary>
    internal static bool CaptureMessageContent(IHostApplicationBuilder builder) =>
        builder.Configuration.GetValue<bool?>("Llm:EnableSensitiveTelemetry")
            ?? (builder.Environment.IsDevelopment() && builder.Configuration.GetValue<bool>("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"));

    /// <summary>The conventions' environment names: GEMINI_API_KEY / GOOGLE_API_KEY, GENAI_MODEL_ID, and the default provider.</summary>
    private static void ApplyEnvironmentConventions(LlmOptions options, IConfiguration configuration)
    {
        if (string.IsNullOrEmpty(options.Gemini.ApiKey))
        {
            options.Gemini.ApiKey = FirstNonEmpty(configuration["GEMINI_API_KEY"], configuration["GOOGLE_API_KEY"]);
        }

        if (configuration["GENAI_MODEL_ID"] is { Length: > 0 } modelId && configuration["Llm:Gemini:ModelId"] is null)
        {
            options.Gemini.ModelId = modelId;
        }

        if (string.IsNullOrEmpty(options.Provider))
        {
            options.Provider = string.IsNullOrEmpty(options.Gemini.ApiKey) ? OfflineChatClient.ProviderName : "gemini";
        }
    }

    private static string? FirstNonEmpty(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
}
