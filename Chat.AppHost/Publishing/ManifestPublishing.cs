using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Hosting.Publishing;

/// <summary>
/// The publish mode's two hooks: Build() registers the request when the command line asks to publish, and Run()
/// publishes instead of starting processes. Nothing of the orchestrator runs, so no build output is needed.
/// </summary>
internal static partial class ManifestPublishing
{
    public static void AddPublishing(this IServiceCollection services, string[] args, IConfiguration configuration)
    {
        if (PublishRequest.From(args, configuration) is { } request)
        {
            services.AddSingleton(request);
        }
    }

    public static PublishRequest? Requested(IServiceProvider services) => services.GetService<PublishRequest>();

    public static async Task PublishAsync(IServiceProvider services, PublishRequest request, CancellationToken cancellationToken)
    {
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Chat.AppHost.Publishing");
        var resources = services.GetRequiredService<Orchestration.ApplicationModel>().Resources;
        var model = DeploymentModel.Build(resources, services.GetRequiredService<IConfiguration>(), request.Settings);
        LogPublishing(logger, request.Target, string.Join(", ", model.Projects.Select(p => $"{p.Name}×{p.Replicas}")));
        if (request.Target == PublishTarget.Kubernetes)
        {
            await KubernetesPublisher.PublishAsync(model, request.OutputDirectory, logger, cancellationToken);
        }
        else
        {
            await ComposePublisher.PublishAsync(model, request.OutputDirectory, logger, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Publishing for {Target}: {Projects}")]
    private static partial void LogPublishing(ILogger logger, PublishTarget target, string projects);
}
