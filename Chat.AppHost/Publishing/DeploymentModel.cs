using Microsoft.Extensions.Configuration;

namespace Chat.Hosting.Publishing;

/// <param name="Port">What the process listens on and what the Service exposes (one number, so a port means one thing everywhere).</param>
/// <param name="UrlEnvironmentVariable">Receives this endpoint's listening URL; null: it is part of ASPNETCORE_URLS.</param>
internal sealed record DeployedPort(string Name, int Port, bool IsHttp2, string? UrlEnvironmentVariable, bool IsExternal);

/// <summary>An environment variable whose value lives in a Secret, never in the manifests.</summary>
internal sealed record SecretReference(string Variable, string SecretName, string Key, bool Optional);

/// <summary>One project resource, as it runs in a cluster: the same environment conventions as a local run, other addresses.</summary>
internal sealed class DeployedProject
{
    public required ProjectResource Resource { get; init; }

    public string Name => Resource.Name;

    public required string Image { get; init; }

    public required int Replicas { get; init; }

    public required IReadOnlyList<DeployedPort> Ports { get; init; }

    /// <summary>Plain settings (a ConfigMap in Kubernetes), sorted so that publishing twice writes the same bytes.</summary>
    public SortedDictionary<string, string> Configuration { get; } = new(StringComparer.Ordinal);

    public List<SecretReference> Secrets { get; } = [];

    public string? HealthCheckPath => Resource.HealthCheckPath;

    /// <summary>Every endpoint is HTTP/2 only (h2c): kubelet's httpGet cannot probe it.</summary>
    public bool IsHttp2Only => Ports.All(p => p.IsHttp2);

    public bool IsExternal => Ports.Any(p => p.IsExternal);

    /// <summary>Scales on its own (a HorizontalPodAutoscaler): the resources behind the public entry, i.e. the transports.</summary>
    public required bool IsAutoscaled { get; init; }

    public required ContainerResources Limits { get; init; }
}

/// <param name="ExternalConnectionSecret">Set when ConnectionStrings:&lt;name&gt; names an existing server: nothing is deployed.</param>
internal sealed record DeployedRedis(RedisResource Resource, int Port, SecretReference? ExternalConnectionSecret)
{
    public string Name => Resource.Name;

    public string ConnectionString => $"{Resource.Name}:{Port}";
}

/// <summary>
/// The graph translated once for every publisher (Kubernetes, Compose): images, ports, environment and secrets per
/// project, Redis deployed or external. Mirrors what the orchestrator gives each local replica
/// (ASPNETCORE_URLS, services__…, ConnectionStrings__…, OTEL_*), with Service DNS names instead of 127.0.0.1 ports.
/// </summary>
internal sealed class DeploymentModel
{
    public const int DefaultHttpPort = 8080;
    public const int RedisPort = 6379;
    public const string DashboardName = "dashboard";
    public const int DashboardUiPort = 18888;
    public const int DashboardOtlpGrpcPort = 18889;
    public const int DashboardOtlpHttpPort = 18890;

    private static readonly ContainerResources s_serviceDefaults = new() { CpuRequest = "100m", MemoryRequest = "128Mi", CpuLimit = "1", MemoryLimit = "512Mi" };
    private static readonly ContainerResources s_llmDefaults = new() { CpuRequest = "250m", MemoryRequest = "256Mi", CpuLimit = "2", MemoryLimit = "1Gi" };
    private static readonly ContainerResources s_redisDefaults = new() { CpuRequest = "100m", MemoryRequest = "128Mi", CpuLimit = "1", MemoryLimit = "1Gi" };

    public required IReadOnlyList<DeployedProject> Projects { get; init; }

    public required IReadOnlyList<DeployedRedis> Redis { get; init; }

    public required PublishSettings Settings { get; init; }

    /// <summary>OTEL_EXPORTER_OTLP_ENDPOINT of every service; null: telemetry is not exported.</summary>
    public string? OtlpEndpoint { get; init; }

    public bool DeploysDashboard { get; init; }

    public ContainerResources RedisLimits => Merge(s_redisDefaults, Settings.Resources.GetValueOrDefault("redis"));

    public static DeploymentModel Build(IReadOnlyList<Resource> resources, IConfiguration configuration, PublishSettings settings)
    {
        var deploysDashboard = settings.OtlpEndpoint.Length == 0 && settings.Dashboard;
        var otlp = settings.OtlpEndpoint.Length > 0 ? settings.OtlpEndpoint
            : deploysDashboard ? $"http://{DashboardName}:{DashboardOtlpGrpcPort}" : null;

        var redis = resources.OfType<RedisResource>().Select(r => new DeployedRedis(r, RedisPort,
            configuration[$"ConnectionStrings:{r.Name}"] is { Length: > 0 }
                ? new SecretReference($"ConnectionStrings__{r.Name}", $"{r.Name}-secrets", "connectionString", Optional: false)
                : null)).ToList();

        var ports = resources.OfType<ProjectResource>().ToDictionary(r => (Resource)r, PortsOf);
        var behindPublicEntry = resources.Where(r => r.Endpoints.Any(e => e.IsExternal)).SelectMany(r => r.References).ToHashSet();

        var projects = new List<DeployedProject>();
        foreach (var resource in resources.OfType<ProjectResource>())
        {
            var project = new DeployedProject
            {
                Resource = resource,
                Image = ImageOf(resource.Name, settings),
                Replicas = resource.Replicas,
                Ports = ports[resource],
                IsAutoscaled = behindPublicEntry.Contains(resource) && !resource.Endpoints.Any(e => e.IsExternal),
                Limits = Merge(resource.References.OfType<RedisResource>().Any() ? s_llmDefaults : s_serviceDefaults,
                    settings.Resources.GetValueOrDefault(resource.Name)),
            };
            AddEnvironment(project, ports, redis, settings, otlp);
            projects.Add(project);
        }

        return new DeploymentModel
        {
            Projects = projects,
            Redis = redis,
            Settings = settings,
            OtlpEndpoint = otlp,
            DeploysDashboard = deploysDashboard,
        };
    }

    /// <summary>chat/&lt;resource&gt;:&lt;tag&gt;, the ContainerRepository Directory.Build.targets gives each service project.</summary>
    public static string ImageOf(string resourceName, PublishSettings settings) =>
        (settings.Registry.Length > 0 ? settings.Registry.TrimEnd('/') + "/" : "") + $"chat/{resourceName}:{settings.ImageTag}";

    /// <summary>Fixed ports stay (the gateway's 8000 and 50051, its public contract); the others listen on 8080, 8081…</summary>
    private static IReadOnlyList<DeployedPort> PortsOf(ProjectResource resource)
    {
        var next = DefaultHttpPort;
        var taken = resource.Endpoints.Where(e => e.Port is not null).Select(e => e.Port!.Value).ToHashSet();
        var result = new List<DeployedPort>();
        foreach (var endpoint in resource.Endpoints)
        {
            var port = endpoint.Port;
            if (port is null)
            {
                while (taken.Contains(next))
                {
                    next++;
                }

                port = next;
                taken.Add(next);
            }

            result.Add(new DeployedPort(endpoint.Name, port.Value, endpoint.IsHttp2, endpoint.UrlEnvironmentVariable, endpoint.IsExternal));
        }

        return result;
    }

    private static void AddEnvironment(DeployedProject project, Dictionary<Resource, IReadOnlyList<DeployedPort>> ports, List<DeployedRedis> redis,
        PublishSettings settings, string? otlp)
    {
        var config = project.Configuration;
        var resource = project.Resource;

        // Listening: the same variables the orchestrator sets, on every interface instead of 127.0.0.1.
        var urls = project.Ports.Where(p => p.UrlEnvironmentVariable is null).Select(p => $"http://+:{PublishSettings.Invariant(p.Port)}").ToList();
        if (urls.Count > 0)
        {
            config["ASPNETCORE_URLS"] = string.Join(';', urls);
        }

        foreach (var port in project.Ports.Where(p => p.UrlEnvironmentVariable is not null))
        {
            config[port.UrlEnvironmentVariable!] = $"http://+:{PublishSettings.Invariant(port.Port)}";
        }

        if (project.IsHttp2Only)
        {
            // AsHttp2Service: what the service's appsettings.json may say too, stated here so the probes' premise holds.
            config["Kestrel__EndpointDefaults__Protocols"] = "Http2";
        }

        config["ASPNETCORE_ENVIRONMENT"] = settings.Environment;
        config["DOTNET_ENVIRONMENT"] = settings.Environment;
        config["DOTNET_SHUTDOWNTIMEOUTSECONDS"] = PublishSettings.Invariant(settings.StreamDrainSeconds);
        config["OTEL_SERVICE_NAME"] = resource.Name;
        if (otlp is not null)
        {
            config["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp;
            config["OTEL_EXPORTER_OTLP_PROTOCOL"] = settings.OtlpProtocol;
            config["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"] = "in_memory";
        }

        foreach (var reference in resource.References)
        {
            if (reference is RedisResource)
            {
                var deployed = redis.First(r => r.Resource == reference);
                if (deployed.ExternalConnectionSecret is { } secret)
                {
                    project.Secrets.Add(secret);
                }
                else
                {
                    config[$"ConnectionStrings__{reference.Name}"] = deployed.ConnectionString;
                }

                continue;
            }

            // One address per endpoint: the Service, which balances over the replicas (locally: one per replica).
            foreach (var port in ports[reference])
            {
                config[$"services__{reference.Name}__{port.Name}__0"] = $"http://{reference.Name}:{PublishSettings.Invariant(port.Port)}";
            }
        }

        var declared = PublishingAnnotations.SecretsOf(resource);
        foreach (var (name, value) in resource.Environment)
        {
            if (PublishingAnnotations.IsSecret(resource, name, value))
            {
                if (!declared.ContainsKey(name))
                {
                    project.Secrets.Add(new SecretReference(name, $"{resource.Name}-secrets", name, Optional: false));
                }

                continue;
            }

            config[name] = value;
        }

        foreach (var secret in declared.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            project.Secrets.Add(new SecretReference(secret.Name, $"{resource.Name}-secrets", secret.Name, secret.Optional));
        }
    }

    private static ContainerResources Merge(ContainerResources defaults, ContainerResources? configured) => new()
    {
        CpuRequest = configured?.CpuRequest ?? defaults.CpuRequest,
        MemoryRequest = configured?.MemoryRequest ?? defaults.MemoryRequest,
        CpuLimit = configured?.CpuLimit ?? defaults.CpuLimit,
        MemoryLimit = configured?.MemoryLimit ?? defaults.MemoryLimit,
    };
}
