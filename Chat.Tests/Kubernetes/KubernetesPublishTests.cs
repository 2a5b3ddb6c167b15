using System.Xml.Linq;
using k8s.Models;

namespace Chat.Tests.Kubernetes;

/// <summary>
/// The manifests `publish --target kubernetes` writes from Aspire's application model of Chat.AppHost/Program.cs
/// (publish mode), with its defaults.
/// </summary>
public sealed class KubernetesPublishTests(KubernetesPublishTests.DefaultPublish published) : IClassFixture<KubernetesPublishTests.DefaultPublish>
{
    private static readonly string[] s_projects = ["llm", "rest", "streaming", "sse", "websocket", "grpc", "gateway"];
    private static readonly string[] s_transports = ["rest", "streaming", "sse", "websocket", "grpc"];

    private PublishedManifests Manifests => published.Manifests;

    [Fact]
    public void Publish_EveryListedFileParsesBack_AndEveryFileIsListed()
    {
        var yamlFiles = Manifests.Files.Keys.Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) && f != "kustomization.yaml");
        var listed = Manifests.Objects.Count;

        Assert.Equal(yamlFiles.Count(), listed);
        Assert.All(Manifests.Objects, o => Assert.IsAssignableFrom<k8s.IKubernetesObject>(o));
        foreach (var project in s_projects)
        {
            Assert.NotNull(Manifests.Deployment(project));
            Assert.NotNull(Manifests.Service(project));
            Assert.NotNull(Manifests.ConfigMap($"{project}-config"));
        }
    }

    [Fact]
    public void Publish_EveryServiceGetsTheEnvironmentItReads()
    {
        string[] everyService = ["ASPNETCORE_URLS", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES", "ASPNETCORE_ENVIRONMENT"];
        var reads = new Dictionary<string, string[]>
        {
            ["llm"] = ["ConnectionStrings__redis", "GEMINI_API_KEY", "Kestrel__EndpointDefaults__Protocols"],
            ["rest"] = ["services__llm__http__0"],
            ["streaming"] = ["services__llm__http__0"],
            ["sse"] = ["services__llm__http__0"],
            ["websocket"] = ["services__llm__http__0"],
            ["grpc"] = ["services__llm__http__0", "Kestrel__EndpointDefaults__Protocols"],
            ["gateway"] = ["GATEWAY_HTTP2_URL", "services__rest__http__0", "services__streaming__http__0", "services__sse__http__0", "services__websocket__http__0", "services__grpc__http__0"],
        };

        foreach (var (project, own) in reads)
        {
            var env = Manifests.EnvironmentOf(Manifests.Deployment(project));
            foreach (var name in everyService.Concat(own))
            {
                Assert.True(env.ContainsKey(name), $"{project} reads {name}, which its Deployment does not set.");
            }

            Assert.Equal(project, env["OTEL_SERVICE_NAME"].Value);
            Assert.Equal("http://dashboard:18889", env["OTEL_EXPORTER_OTLP_ENDPOINT"].Value);
            // Each pod names itself (X-Served-By, service.instance.id) through the downward API.
            Assert.Equal("metadata.name", env["POD_NAME"].ValueFrom.FieldRef.FieldPath);
            Assert.StartsWith("service.instance.id=$(POD_NAME)", env["OTEL_RESOURCE_ATTRIBUTES"].Value, StringComparison.Ordinal);
        }

        Assert.Equal("Http2", Manifests.EnvironmentOf(Manifests.Deployment("grpc"))["Kestrel__EndpointDefaults__Protocols"].Value);
        Assert.False(Manifests.EnvironmentOf(Manifests.Deployment("rest")).ContainsKey("Kestrel__EndpointDefaults__Protocols"));
        // Aspire's HTTP_PORTS became ASPNETCORE_URLS, which the .NET images' own ASPNETCORE_HTTP_PORTS=8080 cannot override.
        Assert.All(s_projects, p => Assert.False(Manifests.EnvironmentOf(Manifests.Deployment(p)).ContainsKey("HTTP_PORTS"), p));
    }

    [Fact]
    public void Publish_RedisConnectionString_IsComposedFromTheModel_WithThePasswordFromItsSecret()
    {
        var env = Manifests.Deployment("llm").Spec.Template.Spec.Containers.Single().Env.ToList();
        var password = env.FindIndex(e => e.Name == "REDIS_PASSWORD");
        var connection = env.FindIndex(e => e.Name == "ConnectionStrings__redis");

        // AddRedis's connection string, host:port,password=…: the Service's name and port, the password a reference
        // Kubernetes expands at container start (only to variables defined before it).
        Assert.Equal("redis:6379,password=$(REDIS_PASSWORD)", env[connection].Value);
        Assert.True(password >= 0 && password < connection, "REDIS_PASSWORD must be defined before the value that refers to it.");
        Assert.Equal("redis-password", env[password].ValueFrom.SecretKeyRef.Name);
        Assert.Equal("value", env[password].ValueFrom.SecretKeyRef.Key);
        Assert.Equal("redis", Manifests.EnvironmentOf(Manifests.Deployment("llm"))["REDIS_HOST"].Value);
        // The only variable of the model no Secret reference can express (the URI-encoded password) is left out.
        Assert.DoesNotContain(env, e => e.Name == "REDIS_URI");
    }

    [Fact]
    public void Publish_SecretsSharedByServices_AreOneSecretEach_AndNoSecretIsWritten()
    {
        foreach (var project in s_projects.Except(["gateway"]))
        {
            var key = Manifests.EnvironmentOf(Manifests.Deployment(project))["Llm__InternalApiKey"];
            Assert.Null(key.Value);
            Assert.Equal("llm-internal-key", key.ValueFrom.SecretKeyRef.Name);
            Assert.Equal("value", key.ValueFrom.SecretKeyRef.Key);
            Assert.False(key.ValueFrom.SecretKeyRef.Optional);
        }

        // Only the transports may call the LLM service: the gateway does not get the key.
        Assert.False(Manifests.EnvironmentOf(Manifests.Deployment("gateway")).ContainsKey("Llm__InternalApiKey"));
        Assert.Empty(Manifests.All<V1Secret>());
    }

    [Fact]
    public void Publish_EveryServiceDiscoveryTarget_IsAGeneratedServicePort()
    {
        var targets = 0;
        foreach (var deployment in Manifests.All<V1Deployment>())
        {
            foreach (var (name, variable) in Manifests.EnvironmentOf(deployment).Where(e => e.Key.StartsWith("services__", StringComparison.Ordinal)))
            {
                var parts = name.Split("__");
                var address = new Uri(variable.Value);
                var service = Manifests.Service(address.Host);
                Assert.Equal(parts[1], address.Host);
                var port = Assert.Single(service.Spec.Ports, p => p.Name == parts[2]);
                Assert.Equal(address.Port, port.Port);
                targets++;
            }
        }

        // Five transports find the LLM service; the gateway finds the five transports.
        Assert.Equal(5 + 5, targets);
    }

    [Fact]
    public void Publish_ContainerPort_ServiceTargetPort_AndListeningUrl_AreOnePort()
    {
        foreach (var project in s_projects)
        {
            var deployment = Manifests.Deployment(project);
            var env = Manifests.EnvironmentOf(deployment);
            var listening = env["ASPNETCORE_URLS"].Value.Split(';')
                .Concat(env.TryGetValue("GATEWAY_HTTP2_URL", out var http2) ? [http2.Value] : [])
                .Select(url => int.Parse(url[(url.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture))
                .Order().ToList();
            var containerPorts = deployment.Spec.Template.Spec.Containers.Single().Ports.Select(p => p.ContainerPort).Order().ToList();
            var targetPorts = Manifests.Service(project).Spec.Ports.Select(p => int.Parse(p.TargetPort.Value, System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();

            Assert.Equal(listening, containerPorts);
            Assert.Equal(listening, targetPorts);
        }

        Assert.Equal([8000, 50051], Manifests.Service("gateway").Spec.Ports.Select(p => p.Port).Order());
        Assert.Equal([8080], Manifests.Service("sse").Spec.Ports.Select(p => p.Port));
    }

    [Fact]
    public void Publish_Probes_UseHealthAndAlive_OnDeclaredPorts_AndGrpcForHttp2OnlyServices()
    {
        foreach (var project in s_projects)
        {
            var container = Manifests.Deployment(project).Spec.Template.Spec.Containers.Single();
            var ports = container.Ports.Select(p => p.ContainerPort).ToHashSet();
            if (project is "llm" or "grpc")
            {
                // kubelet's httpGet speaks HTTP/1.1 only; these services answer h2c alone.
                Assert.Null(container.ReadinessProbe.HttpGet);
                Assert.Null(container.LivenessProbe.HttpGet);
                Assert.Contains(container.ReadinessProbe.Grpc.Port, ports);
                Assert.Contains(int.Parse(container.LivenessProbe.TcpSocket.Port.Value, System.Globalization.CultureInfo.InvariantCulture), ports);
                continue;
            }

            Assert.Equal("/health", container.ReadinessProbe.HttpGet.Path);
            Assert.Equal("/alive", container.LivenessProbe.HttpGet.Path);
            Assert.Contains(int.Parse(container.ReadinessProbe.HttpGet.Port.Value, System.Globalization.CultureInfo.InvariantCulture), ports);
            Assert.Contains(int.Parse(container.LivenessProbe.HttpGet.Port.Value, System.Globalization.CultureInfo.InvariantCulture), ports);
        }

        var gateway = Manifests.Deployment("gateway").Spec.Template.Spec.Containers.Single();
        Assert.Equal(8000, int.Parse(gateway.ReadinessProbe.HttpGet.Port.Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Publish_TerminationGrace_OutlastsTheStreamDrain()
    {
        foreach (var project in s_projects)
        {
            var deployment = Manifests.Deployment(project);
            var drain = int.Parse(Manifests.EnvironmentOf(deployment)["DOTNET_SHUTDOWNTIMEOUTSECONDS"].Value, System.Globalization.CultureInfo.InvariantCulture);
            var preStop = (int)deployment.Spec.Template.Spec.Containers.Single().Lifecycle.PreStop.Sleep.Seconds;

            Assert.True(drain >= 30, $"{project} drains for {drain} s only.");
            Assert.True(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds > drain + preStop,
                $"{project}: grace {deployment.Spec.Template.Spec.TerminationGracePeriodSeconds} s does not outlast preStop {preStop} s + drain {drain} s.");
        }
    }

    [Fact]
    public void Publish_ReplicasFollowTheGraph()
    {
        Assert.Equal(2, Manifests.Deployment("sse").Spec.Replicas);
        Assert.All(s_projects.Except(["sse"]), p => Assert.Equal(1, Manifests.Deployment(p).Spec.Replicas));
    }

    [Fact]
    public void Publish_EveryTransportScalesOnItsOwn()
    {
        var autoscalers = Manifests.All<V2HorizontalPodAutoscaler>().ToList();

        Assert.Equal(s_transports.Order(), autoscalers.Select(a => a.Metadata.Name).Order());
        foreach (var autoscaler in autoscalers)
        {
            Assert.Equal("Deployment", autoscaler.Spec.ScaleTargetRef.Kind);
            Assert.Equal(autoscaler.Metadata.Name, autoscaler.Spec.ScaleTargetRef.Name);
            Assert.Equal(Manifests.Deployment(autoscaler.Metadata.Name).Spec.Replicas, autoscaler.Spec.MinReplicas);
            Assert.True(autoscaler.Spec.MaxReplicas > autoscaler.Spec.MinReplicas);
            // CPU utilization needs a CPU request to be measured against.
            Assert.NotNull(Manifests.Deployment(autoscaler.Metadata.Name).Spec.Template.Spec.Containers.Single().Resources.Requests["cpu"]);
        }
    }

    [Fact]
    public void Publish_EveryContainer_HasRequestsAndLimits()
    {
        foreach (var container in Manifests.All<V1Deployment>().Concat<object>(Manifests.All<V1StatefulSet>())
            .Select(o => o is V1Deployment d ? d.Spec.Template.Spec.Containers.Single() : ((V1StatefulSet)o).Spec.Template.Spec.Containers.Single()))
        {
            Assert.True(container.Resources.Requests.ContainsKey("cpu") && container.Resources.Requests.ContainsKey("memory"), container.Name);
            Assert.True(container.Resources.Limits.ContainsKey("memory"), container.Name);
        }
    }

    [Fact]
    public void Publish_Redis_IsAStatefulSetWithAPersistentVolume_ReachableOnlyFromTheLlmService()
    {
        var redis = Assert.Single(Manifests.All<V1StatefulSet>());
        var claim = Assert.Single(redis.Spec.VolumeClaimTemplates);
        var service = Manifests.Service("redis");
        var policy = Assert.Single(Manifests.All<V1NetworkPolicy>());

        var container = redis.Spec.Template.Spec.Containers.Single();

        Assert.Equal("redis", redis.Metadata.Name);
        Assert.Equal("redis", redis.Spec.ServiceName);
        Assert.Equal("1Gi", claim.Spec.Resources.Requests["storage"].ToString());
        Assert.Equal(claim.Metadata.Name, container.VolumeMounts.Single().Name);
        Assert.Contains("--appendonly", container.Args);
        // Aspire's Redis resource: its image, and its password parameter from the Secret both sides read.
        Assert.Matches(@"^docker\.io/library/redis:[0-9]+\.[0-9]+", container.Image);
        Assert.Equal("$(REDIS_PASSWORD)", container.Args[container.Args.IndexOf("--requirepass") + 1]);
        Assert.Equal("redis-password", container.Env.Single(e => e.Name == "REDIS_PASSWORD").ValueFrom.SecretKeyRef.Name);
        Assert.Equal("redis-password", container.Env.Single(e => e.Name == "REDISCLI_AUTH").ValueFrom.SecretKeyRef.Name);
        Assert.Equal(6379, service.Spec.Ports.Single().Port);
        Assert.Equal("llm", policy.Spec.Ingress.Single().FromProperty.Single().PodSelector.MatchLabels["app.kubernetes.io/name"]);
    }

    [Fact]
    public void Publish_Gateway_IsExposedByALoadBalancer_OnBothPublicPorts()
    {
        var gateway = Manifests.Service("gateway");

        Assert.Equal("LoadBalancer", gateway.Spec.Type);
        Assert.Equal("kubernetes.io/h2c", gateway.Spec.Ports.Single(p => p.Port == 50051).AppProtocol);
        Assert.All(s_projects.Except(["gateway"]), p => Assert.Equal("ClusterIP", Manifests.Service(p).Spec.Type));
        Assert.Empty(Manifests.All<V1Ingress>());
    }

    [Fact]
    public void Publish_ProjectImages_AreTheContainerRepositoriesTheBuildGives()
    {
        var targets = XDocument.Load(Path.Combine(RepositoryRoot(), "Directory.Build.targets"));
        var names = targets.Descendants("ChatResourceName").ToDictionary(e => e.Value, e => e.Attribute("Condition")!.Value);
        var tag = targets.Descendants("ChatImageTag").Single().Value;

        foreach (var project in s_projects)
        {
            Assert.True(names.ContainsKey(project), $"Directory.Build.targets gives no project the container repository chat/{project}.");
            Assert.Equal($"chat/{project}:{tag}", Manifests.Deployment(project).Spec.Template.Spec.Containers.Single().Image);
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Chat.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("No Chat.sln above the test output.");
    }

    public sealed class DefaultPublish : IAsyncLifetime
    {
        public PublishedManifests Manifests { get; private set; } = null!;

        public async Task InitializeAsync() => Manifests = await PublishedManifests.PublishAsync();

        public Task DisposeAsync()
        {
            Manifests.Dispose();
            return Task.CompletedTask;
        }
    }
}
