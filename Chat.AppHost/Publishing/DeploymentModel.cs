using System.Globalization;
using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Chat.AppHost.Publishing;

/// <param name="Port">What the process listens on and what the Service exposes (one number, so a port means one thing everywhere).</param>
/// <param name="Scheme">The endpoint's URI scheme in the model (http, redis).</param>
internal sealed record DeployedPort(string Name, int Port, string Scheme, bool IsHttp2, bool IsExternal);

/// <summary>One project resource of the model, as it runs in a cluster.</summary>
internal sealed class DeployedProject
{
    public required ProjectResource Resource { get; init; }

    public string Name => Resource.Name;

    public required string Image { get; init; }

    public required int Replicas { get; init; }

    public required IReadOnlyList<DeployedPort> Ports { get; init; }

    /// <summary>Every variable, sorted so that publishing twice writes the same bytes.</summary>
    public SortedDictionary<string, DeployedValue> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>The plain settings (a ConfigMap in Kubernetes).</summary>
    public IEnumerable<KeyValuePair<string, string>> Configuration =>
        Environment.Where(e => e.Value.IsText).Select(e => KeyValuePair.Create(e.Key, e.Value.Text));

    /// <summary>Has a health check in the model: it serves /health (readiness) and /alive (liveness), the ServiceDefaults convention.</summary>
    public required bool HasHealthCheck { get; init; }

    /// <summary>Every endpoint is HTTP/2 only (h2c): kubelet's httpGet cannot probe it.</summary>
    public bool IsHttp2Only => Ports.Count > 0 && Ports.All(p => p.IsHttp2);

    public bool IsExternal => Ports.Any(p => p.IsExternal);

    /// <summary>Scales on its own (a HorizontalPodAutoscaler): the resources behind the public entry, i.e. the transports.</summary>
    public required bool IsAutoscaled { get; init; }

    public required ContainerResources Limits { get; init; }

    /// <summary>Deployed resources it references or waits for (Compose's depends_on).</summary>
    public required IReadOnlyList<string> DependsOn { get; init; }

    /// <summary>Resources it references (WithReference): who may reach Redis.</summary>
    public required IReadOnlySet<IResource> References { get; init; }
}

/// <summary>Aspire's Redis resource (AddRedis in publish mode): its image, port and password parameter, kept on a volume.</summary>
internal sealed record DeployedRedis(RedisResource Resource, string Image, int Port, SecretValue? Password)
{
    public string Name => Resource.Name;
}

/// <summary>
/// Aspire's application model, read once for every publisher (Kubernetes, Compose): per project resource its image,
/// replica count (GetReplicaCount), endpoints, and the environment its callbacks give it in publish mode — the same
/// callbacks that give a local run its variables — with Service DNS names where a local run has localhost ports and
/// secret parameters kept as references. Aspire's Redis becomes a StatefulSet; a connection string of the model
/// (an external Redis) is a secret like any other.
/// </summary>
internal sealed class DeploymentModel
{
    public const int DefaultHttpPort = 8080;
    public const string DashboardName = "dashboard";
    public const int DashboardUiPort = 18888;
    public const int DashboardOtlpGrpcPort = 18889;
    public const int DashboardOtlpHttpPort = 18890;

    private static readonly ContainerResources s_serviceDefaults = new() { CpuRequest = "100m", MemoryRequest = "128Mi", CpuLimit = "1", MemoryLimit = "512Mi" };
    private static readonly ContainerResources s_storeClientDefaults = new() { CpuRequest = "250m", MemoryRequest = "256Mi", CpuLimit = "2", MemoryLimit = "1Gi" };
    private static readonly ContainerResources s_redisDefaults = new() { CpuRequest = "100m", MemoryRequest = "128Mi", CpuLimit = "1", MemoryLimit = "1Gi" };

    public required IReadOnlyList<DeployedProject> Projects { get; init; }

    public required IReadOnlyList<DeployedRedis> Redis { get; init; }

    public required PublishSettings Settings { get; init; }

    /// <summary>Where each secret is read from, once published.</summary>
    public required IReadOnlyDictionary<SecretValue, SecretSource> SecretSources { get; init; }

    /// <summary>Variables of the model that cannot be published, and why (logged, never silently lost).</summary>
    public required IReadOnlyList<string> Omitted { get; init; }

    /// <summary>OTEL_EXPORTER_OTLP_ENDPOINT of every service; null: telemetry is not exported.</summary>
    public string? OtlpEndpoint { get; init; }

    public bool DeploysDashboard { get; init; }

    public ContainerResources RedisLimits => Merge(s_redisDefaults, Settings.Resources.GetValueOrDefault("redis"));

    public SecretSource SourceOf(SecretValue secret) => SecretSources[secret];

    public static async Task<DeploymentModel> BuildAsync(DistributedApplicationModel model, DistributedApplicationExecutionContext executionContext,
        PublishSettings settings, CancellationToken cancellationToken)
    {
        var deploysDashboard = settings.OtlpEndpoint.Length == 0 && settings.Dashboard;
        var otlp = settings.OtlpEndpoint.Length > 0 ? settings.OtlpEndpoint
            : deploysDashboard ? $"http://{DashboardName}:{DashboardOtlpGrpcPort}" : null;

        var resources = model.Resources.Where(r => !r.IsExcludedFromPublish()).ToList();
        foreach (var resource in resources.Where(r => r is ContainerResource and not RedisResource || r is ExecutableResource))
        {
            throw new DistributedApplicationException(
                $"Resource '{resource.Name}' is a {resource.GetType().Name}: these manifests deploy projects and Aspire's Redis only (docs/kubernetes.md).");
        }

        var projects = resources.OfType<ProjectResource>().ToList();
        var redisResources = resources.OfType<RedisResource>().ToList();
        var ports = new Dictionary<(string, string), DeployedPort>();
        var portsOf = new Dictionary<IResource, IReadOnlyList<DeployedPort>>();
        foreach (var resource in projects.Cast<IResource>().Concat(redisResources))
        {
            portsOf[resource] = PortsOf(resource);
            foreach (var port in portsOf[resource])
            {
                ports[(resource.Name, port.Name)] = port;
            }
        }

        var usage = new SecretUsage();
        var redis = new List<DeployedRedis>();
        foreach (var resource in redisResources)
        {
            var password = resource.PasswordParameter is { } parameter ? SecretValue.Of(parameter) : null;
            if (password is not null)
            {
                usage.Use(password, resource.Name, "REDIS_PASSWORD");
            }

            redis.Add(new DeployedRedis(resource, settings.RedisImage.Length > 0 ? settings.RedisImage : ImageOf(resource), portsOf[resource][0].Port, password));
        }

        var deployedNames = projects.Select(p => p.Name).Concat(redis.Select(r => r.Name)).ToHashSet(StringComparer.Ordinal);
        var externals = projects.Where(p => portsOf[p].Any(e => e.IsExternal)).ToList();
        var behindPublicEntry = externals.SelectMany(ReferencesOf).ToHashSet();
        var resolver = new ModelValueResolver(ports, cancellationToken);
        var omitted = new List<string>();
        var deployed = new List<DeployedProject>();
        foreach (var resource in projects)
        {
            var references = ReferencesOf(resource).ToHashSet();
            var project = new DeployedProject
            {
                Resource = resource,
                Image = ImageOf(resource.Name, settings),
                Replicas = resource.GetReplicaCount(),
                Ports = portsOf[resource],
                HasHealthCheck = resource.Annotations.OfType<HealthCheckAnnotation>().Any(),
                IsAutoscaled = behindPublicEntry.Contains(resource) && !externals.Contains(resource),
                Limits = Merge(references.Any(r => r is IResourceWithConnectionString or ParameterResource { IsConnectionString: true }) ? s_storeClientDefaults : s_serviceDefaults,
                    settings.Resources.GetValueOrDefault(resource.Name)),
                DependsOn = references.Concat(resource.Annotations.OfType<WaitAnnotation>().Select(w => w.Resource))
                    .Select(r => r.Name).Where(deployedNames.Contains).Distinct().ToList(),
                References = references,
            };
            AddDeploymentEnvironment(project, settings, otlp);
            await AddModelEnvironmentAsync(project, executionContext, resolver, omitted, cancellationToken);
            foreach (var (name, value) in project.Environment)
            {
                foreach (var secret in value.Secrets.Distinct())
                {
                    usage.Use(secret, project.Name, value.Secret == secret ? name : null);
                }
            }

            deployed.Add(project);
        }

        return new DeploymentModel
        {
            Projects = deployed,
            Redis = redis,
            Settings = settings,
            SecretSources = usage.Sources(),
            Omitted = omitted,
            OtlpEndpoint = otlp,
            DeploysDashboard = deploysDashboard,
        };
    }

    /// <summary>chat/&lt;resource&gt;:&lt;tag&gt;, the ContainerRepository Directory.Build.targets gives each service project.</summary>
    public static string ImageOf(string resourceName, PublishSettings settings) =>
        (settings.Registry.Length > 0 ? settings.Registry.TrimEnd('/') + "/" : "") + $"chat/{resourceName}:{settings.ImageTag}";

    /// <summary>The image of a container resource in the model (registry/image:tag).</summary>
    private static string ImageOf(ContainerResource resource) =>
        resource.Annotations.OfType<ContainerImageAnnotation>().LastOrDefault() is { } image
            ? (image.Registry is { Length: > 0 } registry ? registry + "/" : "") + image.Image + (image.Tag is { Length: > 0 } tag ? ":" + tag : "")
            : throw new DistributedApplicationException($"Resource '{resource.Name}' has no container image in the model.");

    /// <summary>
    /// Fixed ports stay (the gateway's 8000 and 50051, its public contract; Redis's 6379); the others listen on 8080,
    /// 8081… The model's target port when it has one, else its port: in a cluster there is no proxy between them.
    /// </summary>
    private static IReadOnlyList<DeployedPort> PortsOf(IResource resource)
    {
        var endpoints = resource.Annotations.OfType<EndpointAnnotation>().ToList();
        var taken = endpoints.Select(e => e.TargetPort ?? e.Port).OfType<int>().ToHashSet();
        var next = DefaultHttpPort;
        var result = new List<DeployedPort>();
        foreach (var endpoint in endpoints)
        {
            var port = endpoint.TargetPort ?? endpoint.Port;
            if (port is null)
            {
                while (taken.Contains(next))
                {
                    next++;
                }

                port = next;
                taken.Add(next);
            }

            result.Add(new DeployedPort(endpoint.Name, port.Value, endpoint.UriScheme, endpoint.Transport == "http2", endpoint.IsExternal));
        }

        return result;
    }

    /// <summary>WithReference's relationships, and those Aspire adds for endpoint and parameter values (a resource's own endpoints not counted).</summary>
    private static IEnumerable<IResource> ReferencesOf(IResource resource) =>
        resource.Annotations.OfType<ResourceRelationshipAnnotation>().Where(r => r.Type == "Reference" && r.Resource != resource).Select(r => r.Resource).Distinct();

    /// <summary>What only a deployment decides: environment name, drain time, telemetry destination, the h2c premise of the probes.</summary>
    private static void AddDeploymentEnvironment(DeployedProject project, PublishSettings settings, string? otlp)
    {
        var env = project.Environment;
        env["ASPNETCORE_ENVIRONMENT"] = DeployedValue.Of(settings.Environment);
        env["DOTNET_ENVIRONMENT"] = DeployedValue.Of(settings.Environment);
        env["DOTNET_SHUTDOWNTIMEOUTSECONDS"] = DeployedValue.Of(PublishSettings.Invariant(settings.StreamDrainSeconds));
        if (project.IsHttp2Only)
        {
            // AsHttp2Service: what the service's appsettings.json says too, stated here so the probes' premise holds.
            env["Kestrel__EndpointDefaults__Protocols"] = DeployedValue.Of("Http2");
        }

        // Locally Aspire sets these from its dashboard; in a cluster the deployed dashboard or Publish:OtlpEndpoint.
        if (project.Resource.Annotations.OfType<OtlpExporterAnnotation>().Any())
        {
            env["OTEL_SERVICE_NAME"] = DeployedValue.Of(project.Name);
            if (otlp is not null)
            {
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = DeployedValue.Of(otlp);
                env["OTEL_EXPORTER_OTLP_PROTOCOL"] = DeployedValue.Of(settings.OtlpProtocol);
            }
        }
    }

    /// <summary>
    /// The resource's environment callbacks, run in publish mode (as Aspire's manifest and Kubernetes publishers run
    /// them), each value resolved for the cluster. Two corrections: HTTP_PORTS becomes ASPNETCORE_URLS, which wins
    /// unambiguously over the ASPNETCORE_HTTP_PORTS=8080 the .NET container images set; and the public entry does not
    /// get ASPNETCORE_FORWARDEDHEADERS_ENABLED, since no trusted proxy stands before it and a client's own
    /// X-Forwarded-For would otherwise become the address its rate limits count by.
    /// </summary>
    private static async Task AddModelEnvironmentAsync(DeployedProject project, DistributedApplicationExecutionContext executionContext,
        ModelValueResolver resolver, List<string> omitted, CancellationToken cancellationToken)
    {
        var context = new EnvironmentCallbackContext(executionContext, project.Resource, cancellationToken: cancellationToken);
        foreach (var callback in project.Resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(context);
        }

        var urls = new List<string>();
        foreach (var (name, value) in context.EnvironmentVariables)
        {
            DeployedValue resolved;
            try
            {
                resolved = await resolver.ResolveAsync(value);
            }
            catch (UncomposableSecretException e)
            {
                omitted.Add($"{project.Name}: {name} is not published: {e.Message}.");
                continue;
            }
            catch (NotSupportedException e)
            {
                throw new DistributedApplicationException($"{project.Name}: {name} cannot be published: {e.Message}.", e);
            }

            if (name is "HTTP_PORTS" or "HTTPS_PORTS" && resolved.IsText)
            {
                var scheme = name == "HTTP_PORTS" ? "http" : "https";
                urls.AddRange(resolved.Text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(port => $"{scheme}://+:{port}"));
                continue;
            }

            if (name == "ASPNETCORE_FORWARDEDHEADERS_ENABLED" && project.IsExternal)
            {
                continue;
            }

            // A plain setting named like a secret (or holding password=) is never written, whatever the graph said.
            if (resolved.IsText && (SecretNames.LooksLikeSecret(name) || SecretNames.ValueLooksLikeSecret(resolved.Text)))
            {
                resolved = new DeployedValue([new SecretPart(new SecretValue($"{project.Name}-{name}", Optional: false))]);
            }

            project.Environment[name] = resolved;
        }

        if (urls.Count > 0)
        {
            project.Environment["ASPNETCORE_URLS"] = DeployedValue.Of(string.Join(';', urls));
        }
    }

    private static ContainerResources Merge(ContainerResources defaults, ContainerResources? configured) => new()
    {
        CpuRequest = configured?.CpuRequest ?? defaults.CpuRequest,
        MemoryRequest = configured?.MemoryRequest ?? defaults.MemoryRequest,
        CpuLimit = configured?.CpuLimit ?? defaults.CpuLimit,
        MemoryLimit = configured?.MemoryLimit ?? defaults.MemoryLimit,
    };

    /// <summary>
    /// Which resources use which secret, and under which variable, to name where each is read from: a secret of one
    /// resource, used as one variable (GEMINI_API_KEY of llm), is a key of that resource's Secret (llm-secrets/GEMINI_API_KEY),
    /// so one Secret holds what one service needs; a secret shared by several (the internal key, the Redis password)
    /// is a Secret of its own named after the parameter (llm-internal-key/value), created once.
    /// </summary>
    private sealed class SecretUsage
    {
        private readonly Dictionary<SecretValue, Dictionary<string, HashSet<string>>> _users = [];

        public void Use(SecretValue secret, string resource, string? variable)
        {
            if (!_users.TryGetValue(secret, out var users))
            {
                _users[secret] = users = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            }

            if (!users.TryGetValue(resource, out var variables))
            {
                users[resource] = variables = new HashSet<string>(StringComparer.Ordinal);
            }

            if (variable is not null)
            {
                variables.Add(variable);
            }
        }

        public IReadOnlyDictionary<SecretValue, SecretSource> Sources() => _users.ToDictionary(pair => pair.Key, pair =>
            pair.Value is { Count: 1 } users && users.Single() is { Value: { Count: 1 } variables } user
                ? new SecretSource($"{user.Key}-secrets", variables.Single(), variables.Single(), pair.Key.Optional)
                : new SecretSource(KubernetesName(pair.Key.Name), "value", ShellName(pair.Key.Name), pair.Key.Optional));

        /// <summary>A DNS-1123 name: lower case, digits and '-'.</summary>
        private static string KubernetesName(string name)
        {
            var text = new StringBuilder();
            foreach (var c in name.ToLowerInvariant())
            {
                text.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
            }

            return text.ToString().Trim('-');
        }

        /// <summary>llm-internal-key → LLM_INTERNAL_KEY.</summary>
        private static string ShellName(string name)
        {
            var text = new StringBuilder();
            foreach (var c in name.ToUpper(CultureInfo.InvariantCulture))
            {
                text.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
            }

            return text.ToString();
        }
    }
}
