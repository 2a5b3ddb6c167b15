using System.Security.Cryptography;
using System.Text;
using k8s;
using k8s.Models;

namespace Chat.AppHost.Publishing;

/// <summary>One file of the output: a typed Kubernetes object and the name it is written under.</summary>
internal sealed record KubernetesManifest(string FileName, IKubernetesObject Object);

/// <summary>
/// The Kubernetes shape of the model, as typed models: per project a ConfigMap (its plain environment), a Deployment
/// (secrets as secretKeyRefs) and a Service, a HorizontalPodAutoscaler per transport; Aspire's Redis as a StatefulSet
/// with a volume (nothing when the model has a connection string instead); the gateway's Service of type
/// LoadBalancer and an optional Ingress; the standalone dashboard for OTLP.
/// </summary>
internal static class KubernetesManifests
{
    public const string PartOf = "chat";
    public const string ConfigHashAnnotation = "chat/config-sha256";

    public static IReadOnlyList<KubernetesManifest> Create(DeploymentModel model)
    {
        var manifests = new List<KubernetesManifest>();
        foreach (var redis in model.Redis)
        {
            manifests.Add(new($"{redis.Name}-service.yaml", RedisService(redis)));
            manifests.Add(new($"{redis.Name}-statefulset.yaml", RedisStatefulSet(redis, model)));
            manifests.Add(new($"{redis.Name}-networkpolicy.yaml", RedisNetworkPolicy(redis, model)));
        }

        foreach (var project in model.Projects)
        {
            manifests.Add(new($"{project.Name}-config.yaml", ConfigMap(project)));
            manifests.Add(new($"{project.Name}-deployment.yaml", Deployment(project, model)));
            manifests.Add(new($"{project.Name}-service.yaml", Service(project, model.Settings)));
            if (project.IsAutoscaled)
            {
                manifests.Add(new($"{project.Name}-hpa.yaml", Autoscaler(project, model.Settings)));
            }

            if (project.IsExternal && model.Settings.IngressHost.Length > 0)
            {
                manifests.Add(new($"{project.Name}-ingress.yaml", Ingress(project, model.Settings)));
            }
        }

        if (model.DeploysDashboard)
        {
            manifests.Add(new($"{DeploymentModel.DashboardName}-deployment.yaml", DashboardDeployment(model.Settings)));
            manifests.Add(new($"{DeploymentModel.DashboardName}-service.yaml", DashboardService()));
        }

        return manifests;
    }

    public static Dictionary<string, string> Labels(string name, string component) => new()
    {
        ["app.kubernetes.io/name"] = name,
        ["app.kubernetes.io/component"] = component,
        ["app.kubernetes.io/part-of"] = PartOf,
        ["app.kubernetes.io/managed-by"] = "Chat.AppHost",
    };

    private static Dictionary<string, string> Selector(string name) => new()
    {
        ["app.kubernetes.io/name"] = name,
        ["app.kubernetes.io/part-of"] = PartOf,
    };

    private static V1ObjectMeta Metadata(string name, string component, string? objectName = null) =>
        new() { Name = objectName ?? name, Labels = Labels(name, component) };

    private static V1ConfigMap ConfigMap(DeployedProject project) => new()
    {
        ApiVersion = "v1",
        Kind = "ConfigMap",
        Metadata = Metadata(project.Name, "project", $"{project.Name}-config"),
        Data = project.Configuration.ToDictionary(),
    };

    private static V1Deployment Deployment(DeployedProject project, DeploymentModel model)
    {
        var settings = model.Settings;
        var container = new V1Container
        {
            Name = project.Name,
            Image = project.Image,
            ImagePullPolicy = "IfNotPresent",
            Ports = project.Ports.Select(p => new V1ContainerPort { Name = p.Name, ContainerPort = p.Port, Protocol = "TCP" }).ToList(),
            EnvFrom =
            [
                new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = $"{project.Name}-config" } },
                // Room for settings the graph does not declare (more gateway API keys…), without republishing.
                new V1EnvFromSource { SecretRef = new V1SecretEnvSource { Name = $"{project.Name}-secrets", Optional = true } },
            ],
            Env = PodEnvironment(project, model),
            Resources = Requirements(project.Limits),
            Lifecycle = PreStop(settings),
            SecurityContext = RestrictedContainer(),
        };
        AddProbes(container, project);

        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Metadata(project.Name, "project"),
            Spec = new V1DeploymentSpec
            {
                Replicas = project.Replicas,
                RevisionHistoryLimit = 3,
                Selector = new V1LabelSelector { MatchLabels = Selector(project.Name) },
                // A new replica is ready before an old one drains: streams never lose their last replica.
                Strategy = new V1DeploymentStrategy
                {
                    Type = "RollingUpdate",
                    RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = "25%", MaxUnavailable = "0" },
                },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta
                    {
                        Labels = Labels(project.Name, "project"),
                        // envFrom is read at pod start: a changed ConfigMap must roll the pods, so the template names its hash.
                        Annotations = new Dictionary<string, string> { [ConfigHashAnnotation] = Hash(project.Configuration) },
                    },
                    Spec = new V1PodSpec
                    {
                        TerminationGracePeriodSeconds = settings.TerminationGracePeriodSeconds,
                        // No {SERVICE}_PORT=tcp://… variables: the services use the services__… convention only.
                        EnableServiceLinks = false,
                        SecurityContext = RestrictedPod(),
                        Containers = [container],
                    },
                },
            },
        };
    }

    /// <summary>
    /// The pod's own name as the replica identity (X-Served-By, service.instance.id), from the downward API; then every
    /// secret as a secretKeyRef; then the values composed of text and secrets, which name those variables as $(VAR)
    /// (Kubernetes expands references to variables defined before them, so the value itself is never written).
    /// </summary>
    private static List<V1EnvVar> PodEnvironment(DeployedProject project, DeploymentModel model)
    {
        var env = new List<V1EnvVar>
        {
            new() { Name = "POD_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
            new() { Name = "POD_NAMESPACE", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } } },
            new() { Name = "OTEL_RESOURCE_ATTRIBUTES", Value = "service.instance.id=$(POD_NAME),k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)" },
        };

        var holders = new Dictionary<SecretValue, string>();
        foreach (var (name, value) in project.Environment.Where(e => e.Value.Secret is not null))
        {
            env.Add(SecretVariable(name, model.SourceOf(value.Secret!)));
            holders.TryAdd(value.Secret!, name);
        }

        var composed = project.Environment.Where(e => !e.Value.IsText && e.Value.Secret is null).ToList();
        foreach (var secret in composed.SelectMany(e => e.Value.Secrets).Distinct().Where(s => !holders.ContainsKey(s)))
        {
            var holder = model.SourceOf(secret).ShellVariable;
            while (project.Environment.ContainsKey(holder) || env.Any(e => e.Name == holder))
            {
                holder += "_SECRET";
            }

            env.Add(SecretVariable(holder, model.SourceOf(secret)));
            holders[secret] = holder;
        }

        foreach (var (name, value) in composed)
        {
            env.Add(new V1EnvVar { Name = name, Value = value.Render(text => text.Replace("$(", "$$(", StringComparison.Ordinal), secret => $"$({holders[secret]})") });
        }

        return env;
    }

    private static V1EnvVar SecretVariable(string name, SecretSource source) => new()
    {
        Name = name,
        ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = source.SecretName, Key = source.Key, Optional = source.Optional } },
    };

    /// <summary>
    /// Readiness on /health (every check, dependencies included), liveness on /alive (the process only), a startup probe
    /// so a slow first start is not killed. HTTP/2-only services cannot be probed with httpGet (kubelet speaks
    /// HTTP/1.1, never h2c): readiness uses the gRPC probe against grpc.health.v1, liveness a TCP connect.
    /// </summary>
    private static void AddProbes(V1Container container, DeployedProject project)
    {
        if (!project.HasHealthCheck)
        {
            return;
        }

        var port = project.Ports[0];
        if (project.IsHttp2Only)
        {
            container.ReadinessProbe = new V1Probe { Grpc = new V1GRPCAction { Port = port.Port }, PeriodSeconds = 5, TimeoutSeconds = 3, FailureThreshold = 3 };
            container.LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = port.Port }, PeriodSeconds = 10, TimeoutSeconds = 3, FailureThreshold = 3 };
            container.StartupProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = port.Port }, PeriodSeconds = 2, FailureThreshold = 30 };
            return;
        }

        container.ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/health", Port = port.Port }, PeriodSeconds = 5, TimeoutSeconds = 3, FailureThreshold = 3 };
        container.LivenessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/alive", Port = port.Port }, PeriodSeconds = 10, TimeoutSeconds = 3, FailureThreshold = 3 };
        container.StartupProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/alive", Port = port.Port }, PeriodSeconds = 2, FailureThreshold = 30 };
    }

    /// <summary>Sleep (no shell needed in the image) while the pod leaves every Service's endpoints, then SIGTERM drains.</summary>
    private static V1Lifecycle? PreStop(PublishSettings settings) => settings.PreStopSeconds == 0 ? null
        : new V1Lifecycle { PreStop = new V1LifecycleHandler { Sleep = new V1SleepAction { Seconds = settings.PreStopSeconds } } };

    private static V1Service Service(DeployedProject project, PublishSettings settings) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = Metadata(project.Name, "project"),
        Spec = new V1ServiceSpec
        {
            Type = project.IsExternal ? settings.ExternalServiceType : "ClusterIP",
            Selector = Selector(project.Name),
            Ports = project.Ports.Select(p => new V1ServicePort
            {
                Name = p.Name,
                Port = p.Port,
                TargetPort = p.Port,
                Protocol = "TCP",
                // Tells meshes and ingress controllers to speak h2c, not HTTP/1.1, to this port.
                AppProtocol = p.IsHttp2 ? "kubernetes.io/h2c" : "http",
            }).ToList(),
        },
    };

    private static V2HorizontalPodAutoscaler Autoscaler(DeployedProject project, PublishSettings settings) => new()
    {
        ApiVersion = "autoscaling/v2",
        Kind = "HorizontalPodAutoscaler",
        Metadata = Metadata(project.Name, "project"),
        Spec = new V2HorizontalPodAutoscalerSpec
        {
            ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = project.Name },
            MinReplicas = project.Replicas,
            MaxReplicas = Math.Max(project.Replicas, settings.Autoscaling.MaxReplicas),
            Metrics =
            [
                new V2MetricSpec
                {
                    Type = "Resource",
                    Resource = new V2ResourceMetricSource
                    {
                        Name = "cpu",
                        Target = new V2MetricTarget { Type = "Utilization", AverageUtilization = settings.Autoscaling.CpuUtilization },
                    },
                },
            ],
            // Long-lived streams make a replica look idle for a while after scaling out; scale in slowly.
            Behavior = new V2HorizontalPodAutoscalerBehavior
            {
                ScaleDown = new V2HPAScalingRules
                {
                    StabilizationWindowSeconds = 300,
                    Policies = [new V2HPAScalingPolicy { Type = "Pods", Value = 1, PeriodSeconds = 60 }],
                },
            },
        },
    };

    private static V1Ingress Ingress(DeployedProject project, PublishSettings settings)
    {
        var http = project.Ports.First(p => !p.IsHttp2);
        return new V1Ingress
        {
            ApiVersion = "networking.k8s.io/v1",
            Kind = "Ingress",
            Metadata = Metadata(project.Name, "project"),
            Spec = new V1IngressSpec
            {
                IngressClassName = settings.IngressClassName.Length > 0 ? settings.IngressClassName : null,
                Rules =
                [
                    new V1IngressRule
                    {
                        Host = settings.IngressHost,
                        Http = new V1HTTPIngressRuleValue
                        {
                            Paths =
                            [
                                new V1HTTPIngressPath
                                {
                                    Path = "/",
                                    PathType = "Prefix",
                                    Backend = new V1IngressBackend
                                    {
                                        Service = new V1IngressServiceBackend { Name = project.Name, Port = new V1ServiceBackendPort { Number = http.Port } },
                                    },
                                },
                            ],
                        },
                    },
                ],
            },
        };
    }

    /// <summary>Headless: the StatefulSet's governing Service, and `redis:6379` for the LLM service.</summary>
    private static V1Service RedisService(DeployedRedis redis) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = Metadata(redis.Name, "redis"),
        Spec = new V1ServiceSpec
        {
            ClusterIP = "None",
            Selector = Selector(redis.Name),
            Ports = [new V1ServicePort { Name = "tcp", Port = redis.Port, TargetPort = redis.Port, Protocol = "TCP", AppProtocol = "redis" }],
        },
    };

    /// <summary>
    /// Aspire's Redis resource: its image, port and password (from its Secret: requirepass, and REDISCLI_AUTH so the
    /// probe's redis-cli authenticates), with the same persistence as the local redis-server: an append-only file, here
    /// on a PersistentVolume.
    /// </summary>
    private static V1StatefulSet RedisStatefulSet(DeployedRedis redis, DeploymentModel model)
    {
        var settings = model.Settings;
        List<string> arguments = ["--port", PublishSettings.Invariant(redis.Port)];
        var env = new List<V1EnvVar>();
        if (redis.Password is { } password)
        {
            env.Add(SecretVariable("REDIS_PASSWORD", model.SourceOf(password)));
            env.Add(SecretVariable("REDISCLI_AUTH", model.SourceOf(password)));
            arguments.AddRange(["--requirepass", "$(REDIS_PASSWORD)"]);
        }

        arguments.AddRange(["--dir", "/data", "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no"]);
        var container = new V1Container
        {
            Name = "redis",
            Image = redis.Image,
            ImagePullPolicy = "IfNotPresent",
            Args = arguments,
            Env = env.Count > 0 ? env : null,
            Ports = [new V1ContainerPort { Name = "tcp", ContainerPort = redis.Port, Protocol = "TCP" }],
            VolumeMounts = [new V1VolumeMount { Name = "data", MountPath = "/data" }],
            ReadinessProbe = new V1Probe { Exec = new V1ExecAction { Command = ["redis-cli", "-p", PublishSettings.Invariant(redis.Port), "ping"] }, PeriodSeconds = 5, TimeoutSeconds = 3 },
            LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = redis.Port }, PeriodSeconds = 10, TimeoutSeconds = 3 },
            Resources = Requirements(model.RedisLimits),
            SecurityContext = RestrictedContainer(),
        };

        return new V1StatefulSet
        {
            ApiVersion = "apps/v1",
            Kind = "StatefulSet",
            Metadata = Metadata(redis.Name, "redis"),
            Spec = new V1StatefulSetSpec
            {
                ServiceName = redis.Name,
                Replicas = 1,
                Selector = new V1LabelSelector { MatchLabels = Selector(redis.Name) },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = Labels(redis.Name, "redis") },
                    Spec = new V1PodSpec
                    {
                        EnableServiceLinks = false,
                        // The redis image's user (uid 999) owns the volume through fsGroup.
                        SecurityContext = new V1PodSecurityContext { RunAsNonRoot = true, RunAsUser = 999, FsGroup = 999, SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" } },
                        TerminationGracePeriodSeconds = 30,
                        Containers = [container],
                    },
                },
                VolumeClaimTemplates =
                [
                    new V1PersistentVolumeClaim
                    {
                        Metadata = new V1ObjectMeta { Name = "data", Labels = Labels(redis.Name, "redis") },
                        Spec = new V1PersistentVolumeClaimSpec
                        {
                            AccessModes = ["ReadWriteOnce"],
                            StorageClassName = settings.RedisStorageClass.Length > 0 ? settings.RedisStorageClass : null,
                            Resources = new V1VolumeResourceRequirements
                            {
                                Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new ResourceQuantity(settings.RedisStorage) },
                            },
                        },
                    },
                ],
            },
        };
    }

    /// <summary>Only the projects that reference Redis (the LLM service) may connect to it, password or not.</summary>
    private static V1NetworkPolicy RedisNetworkPolicy(DeployedRedis redis, DeploymentModel model) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = Metadata(redis.Name, "redis"),
        Spec = new V1NetworkPolicySpec
        {
            PodSelector = new V1LabelSelector { MatchLabels = Selector(redis.Name) },
            PolicyTypes = ["Ingress"],
            Ingress =
            [
                new V1NetworkPolicyIngressRule
                {
                    FromProperty = model.Projects.Where(p => p.References.Contains(redis.Resource))
                        .Select(p => new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector { MatchLabels = Selector(p.Name) } }).ToList(),
                    Ports = [new V1NetworkPolicyPort { Port = redis.Port, Protocol = "TCP" }],
                },
            ],
        },
    };

    /// <summary>
    /// The standalone Aspire dashboard: every service's OTLP goes to it (as the AppHost's own dashboard locally).
    /// Unauthenticated, so only a ClusterIP Service: `kubectl port-forward svc/dashboard 18888`.
    /// </summary>
    private static V1Deployment DashboardDeployment(PublishSettings settings)
    {
        const string name = DeploymentModel.DashboardName;
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Metadata(name, "dashboard"),
            Spec = new V1DeploymentSpec
            {
                Replicas = 1,
                Selector = new V1LabelSelector { MatchLabels = Selector(name) },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = Labels(name, "dashboard") },
                    Spec = new V1PodSpec
                    {
                        EnableServiceLinks = false,
                        Containers =
                        [
                            new V1Container
                            {
                                Name = name,
                                Image = settings.DashboardImage,
                                ImagePullPolicy = "IfNotPresent",
                                Env = [new V1EnvVar { Name = "ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS", Value = "true" }],
                                Ports =
                                [
                                    new V1ContainerPort { Name = "ui", ContainerPort = DeploymentModel.DashboardUiPort, Protocol = "TCP" },
                                    new V1ContainerPort { Name = "otlp-grpc", ContainerPort = DeploymentModel.DashboardOtlpGrpcPort, Protocol = "TCP" },
                                    new V1ContainerPort { Name = "otlp-http", ContainerPort = DeploymentModel.DashboardOtlpHttpPort, Protocol = "TCP" },
                                ],
                                ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = DeploymentModel.DashboardUiPort }, PeriodSeconds = 10 },
                                Resources = Requirements(new ContainerResources { CpuRequest = "100m", MemoryRequest = "256Mi", MemoryLimit = "1Gi" }),
                            },
                        ],
                    },
                },
            },
        };
    }

    private static V1Service DashboardService() => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = Metadata(DeploymentModel.DashboardName, "dashboard"),
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            Selector = Selector(DeploymentModel.DashboardName),
            Ports =
            [
                new V1ServicePort { Name = "ui", Port = DeploymentModel.DashboardUiPort, TargetPort = DeploymentModel.DashboardUiPort, Protocol = "TCP", AppProtocol = "http" },
                new V1ServicePort { Name = "otlp-grpc", Port = DeploymentModel.DashboardOtlpGrpcPort, TargetPort = DeploymentModel.DashboardOtlpGrpcPort, Protocol = "TCP", AppProtocol = "kubernetes.io/h2c" },
                new V1ServicePort { Name = "otlp-http", Port = DeploymentModel.DashboardOtlpHttpPort, TargetPort = DeploymentModel.DashboardOtlpHttpPort, Protocol = "TCP", AppProtocol = "http" },
            ],
        },
    };

    private static V1ResourceRequirements Requirements(ContainerResources resources)
    {
        static Dictionary<string, ResourceQuantity>? Quantities(string? cpu, string? memory)
        {
            var quantities = new Dictionary<string, ResourceQuantity>();
            if (cpu is { Length: > 0 })
            {
                quantities["cpu"] = new ResourceQuantity(cpu);
            }

            if (memory is { Length: > 0 })
            {
                quantities["memory"] = new ResourceQuantity(memory);
            }

            return quantities.Count > 0 ? quantities : null;
        }

        return new V1ResourceRequirements
        {
            Requests = Quantities(resources.CpuRequest, resources.MemoryRequest),
            Limits = Quantities(resources.CpuLimit, resources.MemoryLimit),
        };
    }

    /// <summary>The SDK's container images run as the non-root `app` user (APP_UID 1654 of the .NET images); the pod insists on it.</summary>
    private static V1PodSecurityContext RestrictedPod() => new()
    {
        RunAsNonRoot = true,
        RunAsUser = 1654,
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };

    private static V1SecurityContext RestrictedContainer() => new()
    {
        AllowPrivilegeEscalation = false,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
    };

    private static string Hash(IEnumerable<KeyValuePair<string, string>> values)
    {
        var text = string.Join('\n', values.Select(pair => $"{pair.Key}={pair.Value}"));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
