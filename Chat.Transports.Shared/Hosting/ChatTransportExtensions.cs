using System.Text.Json;
using Chat.Transports.Shared.Apis;
using Chat.Transports.Shared.Errors;
using Chat.Transports.Shared.Health;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Everything the HTTP transports have in common, in three calls:
/// <code>
/// builder.AddChatTransport(descriptor);   // LLM client, options, JSON, ProblemDetails, health check, OpenAPI
/// app.UseChatTransport();                 // X-Served-By, forwarded prefix, errors as ProblemDetails
/// app.MapChatTransportEndpoints();        // /health (original shape), /sessions…, /, /stats, /demo, /docs
/// </code>
/// </summary>
public static class ChatTransportExtensions
{
    public static TBuilder AddChatTransport<TBuilder>(this TBuilder builder, ChatTransportDescriptor descriptor)
        where TBuilder : IHostApplicationBuilder
    {
        builder.AddH2cEndpoint();
        var services = builder.Services;
        services.AddSingleton(descriptor);
        services.AddSingleton<ConnectionCounter>();
        services.AddSingleton<TransportRuntime>();
        services.AddSingleton<TransportTelemetry>();
        services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddSource(TransportTelemetry.Name))
            .WithMetrics(metrics => metrics.AddMeter(TransportTelemetry.Name));
        services.AddOptions<TransportOptions>()
            .BindConfiguration(TransportOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.AddLlmServiceClient();

        // The original's bodies are snake_case (session_id, message_count…), with its timestamp and float formats;
        // ProblemDetails keeps its own names.
        services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.DictionaryKeyPolicy = null;
            OriginalJson.Configure(options.SerializerOptions);
        });

        services.AddProblemDetails();
        services.AddExceptionHandler<ChatExceptionHandler>();
        // Malformed bodies throw (then become ProblemDetails with a useful detail) instead of a bare 400.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);

        services.AddHealthChecks().AddCheck<LlmServiceHealthCheck>(LlmServiceHealthCheck.Name);

        services.AddHttpContextAccessor();
        services.AddOpenApi(options => options.AddDocumentTransformer((document, context, _) =>
        {
            document.Info.Title = descriptor.Name;
            document.Info.Version = descriptor.Version;
            // A host-relative server ("/" or the gateway's "/sse/" from X-Forwarded-Prefix): the browser's own host
            // is the right one, the internal address this replica listens on never is.
            var pathBase = context.ApplicationServices.GetService<IHttpContextAccessor>()?.HttpContext?.Request.PathBase ?? PathString.Empty;
            document.Servers = [new() { Url = pathBase.Add("/").Value }];
            return Task.CompletedTask;
        }));

        return builder;
    }

    public static WebApplication UseChatTransport(this WebApplication app)
    {
        app.UseServedByHeader();
        app.UseForwardedPrefix();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    public static WebApplication MapChatTransportEndpoints(this WebApplication app)
    {
        app.MapDefaultEndpoints(ChatHealthWriter.WriteAsync);
        app.MapChatSessionsApi();
        app.MapChatServiceInfoApi();
        app.MapChatDocs();
        return app;
    }

    /// <summary>
    /// Honours <c>X-Forwarded-Prefix</c> (set by a proxy that strips a path prefix) as the request's PathBase, so the
    /// few absolute links a response carries (Location headers) point back through the proxy.
    /// </summary>
    public static WebApplication UseForwardedPrefix(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            var prefix = context.Request.Headers["X-Forwarded-Prefix"].ToString();
            if (prefix.Length > 1 && prefix[0] == '/' && !prefix.Contains("//", StringComparison.Ordinal))
            {
                context.Request.PathBase = new PathString(prefix.TrimEnd('/')).Add(context.Request.PathBase);
            }

            return next(context);
        });
        return app;
    }
}
