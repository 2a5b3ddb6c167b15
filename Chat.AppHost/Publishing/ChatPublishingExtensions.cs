using Aspire.Hosting.Pipelines;
using Chat.AppHost.Publishing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Aspire.Hosting;

// Aspire 13.6's pipeline is the supported way to add a publish step (IDistributedApplicationPublisher is obsolete),
// and it is marked experimental: accepted here, in the one file that uses it.
#pragma warning disable ASPIREPIPELINES001, ASPIREPIPELINES004

/// <summary>
/// Two steps of Aspire's publish pipeline that write this application's deployment files from Aspire's application
/// model in publish mode: <c>publish-kubernetes</c> (manifests and kustomization.yaml) and <c>publish-compose</c>
/// (docker-compose.yaml). `publish --target kubernetes --output deploy/k8s` runs the first (<see cref="PublishCommand"/>);
/// so do `--operation publish --step publish-kubernetes --output-path deploy/k8s` and `aspire do publish-kubernetes -o deploy/k8s`.
/// Neither depends on Aspire's process-parameters step: no secret is ever read, so none has to be given.
/// </summary>
public static partial class ChatPublishingExtensions
{
    public const string KubernetesStep = "publish-kubernetes";
    public const string ComposeStep = "publish-compose";

    public static IDistributedApplicationBuilder AddChatPublishing(this IDistributedApplicationBuilder builder)
    {
        builder.Pipeline.AddStep(new PipelineStep
        {
            Name = KubernetesStep,
            Description = "Writes Kubernetes manifests (Deployments, Services, ConfigMaps, HPAs, Redis StatefulSet, kustomization.yaml) to the output path.",
            Action = context => PublishAsync(context, kubernetes: true),
        });
        builder.Pipeline.AddStep(new PipelineStep
        {
            Name = ComposeStep,
            Description = "Writes docker-compose.yaml to the output path.",
            Action = context => PublishAsync(context, kubernetes: false),
        });
        return builder;
    }

    private static async Task PublishAsync(PipelineStepContext context, bool kubernetes)
    {
        try
        {
            await WriteAsync(context, kubernetes);
        }
        catch
        {
            // Aspire logs the failure and stops the host, but `dotnet run` would still exit 0: a script or CI job
            // applying the output must see that there is none.
            Environment.ExitCode = 1;
            throw;
        }
    }

    private static async Task WriteAsync(PipelineStepContext context, bool kubernetes)
    {
        var settings = PublishSettings.From(context.Services.GetRequiredService<IConfiguration>());
        var output = Path.GetFullPath(context.Services.GetRequiredService<IPipelineOutputService>().GetOutputDirectory());
        var model = await DeploymentModel.BuildAsync(context.Model, context.ExecutionContext, settings, context.CancellationToken);
        var logger = context.Logger;
        LogPublishing(logger, kubernetes ? "Kubernetes" : "Docker Compose", string.Join(", ", model.Projects.Select(p => $"{p.Name}×{p.Replicas}")));
        foreach (var omitted in model.Omitted)
        {
            LogOmitted(logger, omitted);
        }

        if (kubernetes)
        {
            await KubernetesPublisher.PublishAsync(model, output, logger, context.CancellationToken);
        }
        else
        {
            await ComposePublisher.PublishAsync(model, output, logger, context.CancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Publishing for {Target} from Aspire's application model: {Projects}")]
    private static partial void LogPublishing(ILogger logger, string target, string projects);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Omitted}")]
    private static partial void LogOmitted(ILogger logger, string omitted);
}
