using System.Text;
using Microsoft.Extensions.Logging;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Chat.AppHost.Publishing;

/// <summary>docker-compose.yaml's subset used here (the Compose specification's names, snake_case).</summary>
internal sealed class ComposeFile
{
    public string Name { get; set; } = "chat";

    public Dictionary<string, ComposeService> Services { get; set; } = [];

    public Dictionary<string, Dictionary<string, string>>? Volumes { get; set; }
}

internal sealed class ComposeService
{
    public required string Image { get; set; }

    public List<string>? Command { get; set; }

    public SortedDictionary<string, string>? Environment { get; set; }

    public List<string>? Ports { get; set; }

    public List<string>? Expose { get; set; }

    public List<string>? Volumes { get; set; }

    public List<string>? DependsOn { get; set; }

    public ComposeDeploy? Deploy { get; set; }

    public string? StopGracePeriod { get; set; }

    public string Restart { get; set; } = "unless-stopped";
}

internal sealed class ComposeDeploy
{
    public int Replicas { get; set; }
}

/// <summary>
/// A single-host deployment from the same model: one Compose service per resource, the same environment as in
/// Kubernetes (Compose's DNS returns every replica of a service), secrets interpolated from the shell or a .env file
/// (${GEMINI_API_KEY:-}), never written.
/// </summary>
internal static partial class ComposePublisher
{
    public const string FileName = "docker-compose.yaml";

    public static async Task PublishAsync(DeploymentModel model, string outputDirectory, ILogger logger, CancellationToken cancellationToken)
    {
        var compose = new ComposeFile();
        foreach (var redis in model.Redis)
        {
            var port = PublishSettings.Invariant(redis.Port);
            // The password reaches redis-server through the environment and the image's shell ($$ is Compose's escape
            // for $), so `docker compose config` and the container's command line show a variable, not the value.
            var requirePass = redis.Password is null ? "" : " --requirepass \"$$REDIS_PASSWORD\"";
            compose.Services[redis.Name] = new ComposeService
            {
                Image = redis.Image,
                Command = ["/bin/sh", "-c", $"exec redis-server --port {port}{requirePass} --dir /data --appendonly yes --appendfsync everysec"],
                Environment = redis.Password is { } password
                    ? new SortedDictionary<string, string>(StringComparer.Ordinal) { ["REDIS_PASSWORD"] = Reference(model.SourceOf(password)) }
                    : null,
                Expose = [port],
                Volumes = [$"{redis.Name}-data:/data"],
            };
            (compose.Volumes ??= [])[$"{redis.Name}-data"] = [];
        }

        foreach (var project in model.Projects)
        {
            var environment = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={project.Name}",
            };
            foreach (var (name, value) in project.Environment)
            {
                environment[name] = value.Render(text => text.Replace("$", "$$", StringComparison.Ordinal), secret => Reference(model.SourceOf(secret)));
            }

            compose.Services[project.Name] = new ComposeService
            {
                Image = project.Image,
                Environment = environment,
                Ports = project.IsExternal ? project.Ports.Select(p => $"{p.Port}:{p.Port}").ToList() : null,
                Expose = project.IsExternal ? null : project.Ports.Select(p => PublishSettings.Invariant(p.Port)).ToList(),
                DependsOn = project.DependsOn.Count > 0 ? [.. project.DependsOn] : null,
                Deploy = project.Replicas > 1 ? new ComposeDeploy { Replicas = project.Replicas } : null,
                StopGracePeriod = $"{model.Settings.TerminationGracePeriodSeconds}s",
            };
        }

        if (model.DeploysDashboard)
        {
            compose.Services[DeploymentModel.DashboardName] = new ComposeService
            {
                Image = model.Settings.DashboardImage,
                Environment = new SortedDictionary<string, string> { ["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true" },
                Ports = [$"127.0.0.1:{DeploymentModel.DashboardUiPort}:{DeploymentModel.DashboardUiPort}"],
                Expose = [PublishSettings.Invariant(DeploymentModel.DashboardOtlpGrpcPort), PublishSettings.Invariant(DeploymentModel.DashboardOtlpHttpPort)],
            };
        }

        var yaml = new SerializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull)
            // "true", "60": strings stay strings, as the Compose specification asks of environment values.
            .WithQuotingNecessaryStrings()
            .Build()
            .Serialize(compose);
        Directory.CreateDirectory(outputDirectory);
        var path = Path.Combine(outputDirectory, FileName);
        await File.WriteAllTextAsync(path, "# Generated by `Chat.AppHost publish --target compose` from the AppHost's Aspire application model. Do not edit: publish again.\n" + yaml,
            new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), cancellationToken);
        LogWritten(logger, path);
        var variables = model.SecretSources.Values.DistinctBy(s => s.ShellVariable).OrderBy(s => s.ShellVariable, StringComparer.Ordinal).ToList();
        if (variables.Count > 0)
        {
            LogSecrets(logger, string.Join(", ", variables.Select(s => s.Optional ? $"{s.ShellVariable} (optional)" : s.ShellVariable)));
        }
    }

    /// <summary>${VAR:-} for an optional secret, else ${VAR:?…}: Compose refuses to start without it and says which.</summary>
    private static string Reference(SecretSource source) => source.Optional
        ? $"${{{source.ShellVariable}:-}}"
        : $"${{{source.ShellVariable}:?set {source.ShellVariable} in the environment or .env}}";

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote {Path}. Start with: docker compose -f {Path} up -d")]
    private static partial void LogWritten(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Secrets are read from the environment or a .env file beside it, never written: {Variables}")]
    private static partial void LogSecrets(ILogger logger, string variables);
}
