using Microsoft.Extensions.Configuration;

namespace Chat.Hosting.Publishing;

public enum PublishTarget
{
    Kubernetes,
    Compose,
}

/// <summary>
/// `dotnet run --project Chat.AppHost -- publish --target kubernetes --output deploy/k8s`: write deployment files from
/// the graph instead of starting it. The command line's other settings (--replicas sse=3, --Llm:Provider=…,
/// --Publish:ImageTag=1.2.0) apply exactly as they do to a local run.
/// </summary>
public sealed record PublishRequest(PublishTarget Target, string OutputDirectory, PublishSettings Settings)
{
    /// <summary>Null unless the first argument is `publish`; a wrong target throws a message naming the choices.</summary>
    public static PublishRequest? From(string[] args, IConfiguration configuration)
    {
        if (args is not [{ } verb, ..] || !string.Equals(verb, "publish", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var target = (configuration["target"] ?? "kubernetes").ToLowerInvariant() switch
        {
            "kubernetes" or "k8s" => PublishTarget.Kubernetes,
            "compose" or "docker-compose" => PublishTarget.Compose,
            var other => throw new DistributedApplicationException(
                $"publish --target {other}: expected kubernetes or compose (e.g. publish --target kubernetes --output deploy/k8s)."),
        };
        var output = configuration["output"] is { Length: > 0 } given ? given
            : Path.Combine("deploy", target == PublishTarget.Kubernetes ? "k8s" : "compose");

        var settings = new PublishSettings();
        configuration.GetSection(PublishSettings.SectionName).Bind(settings);
        settings.Validate();
        return new PublishRequest(target, Path.GetFullPath(output), settings);
    }
}
