using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Chat.AppHost.Publishing;

/// <summary>
/// Section <c>Publish</c>: what only a deployment needs (images, cluster sizing, exposure). Everything else — resources,
/// replicas, references, endpoints, environment, secrets — comes from Aspire's application model, as in a local run.
/// </summary>
public sealed class PublishSettings
{
    public const string SectionName = "Publish";

    /// <summary>Prefix of every image (ghcr.io/acme); empty: images as loaded into the cluster's runtime (kind load, minikube image load).</summary>
    public string Registry { get; set; } = "";

    /// <summary>Tag of every project image; default: ChatImageTag from Directory.Build.targets, the tag `dotnet publish /t:PublishContainer` gives.</summary>
    public string ImageTag { get; set; } = BuiltImageTag();

    /// <summary>Written into kustomization.yaml (namespace:); empty leaves it to `kubectl -n`.</summary>
    public string Namespace { get; set; } = "";

    /// <summary>ASPNETCORE_ENVIRONMENT of the deployed services (locally the AppHost passes its own, Development).</summary>
    public string Environment { get; set; } = "Production";

    /// <summary>Where every service sends OTLP; empty: the Aspire standalone dashboard deployed alongside (Dashboard: true), else none.</summary>
    public string OtlpEndpoint { get; set; } = "";

    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>Deploy the standalone Aspire dashboard (OTLP receiver + UI, ClusterIP: reach it with kubectl port-forward).</summary>
    public bool Dashboard { get; set; } = true;

    public string DashboardImage { get; set; } = "mcr.microsoft.com/dotnet/aspire-dashboard:9.5";

    /// <summary>Empty: the image of Aspire's Redis resource in the model (AddRedis: docker.io/library/redis:8.6).</summary>
    public string RedisImage { get; set; } = "";

    public string RedisStorage { get; set; } = "1Gi";

    /// <summary>Empty: the cluster's default StorageClass.</summary>
    public string RedisStorageClass { get; set; } = "";

    /// <summary>Type of the Service in front of resources with external endpoints (the gateway): LoadBalancer, NodePort or ClusterIP.</summary>
    public string ExternalServiceType { get; set; } = "LoadBalancer";

    /// <summary>Host name for an Ingress to the external HTTP/1.1 endpoint; empty: no Ingress.</summary>
    public string IngressHost { get; set; } = "";

    public string IngressClassName { get; set; } = "";

    /// <summary>
    /// How long a stopping replica may take to finish its in-flight streams (DOTNET_SHUTDOWNTIMEOUTSECONDS); the pod's
    /// grace period is PreStopSeconds + this + a margin, so Kubernetes never kills a replica that is still draining.
    /// </summary>
    public int StreamDrainSeconds { get; set; } = 60;

    /// <summary>Sleep before SIGTERM, while the endpoint controllers take the pod out of every Service.</summary>
    public int PreStopSeconds { get; set; } = 5;

    public AutoscalingSettings Autoscaling { get; set; } = new();

    /// <summary>Per resource name: CPU/memory requests and limits; defaults in <see cref="DeploymentModel"/>.</summary>
    public Dictionary<string, ContainerResources> Resources { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Seconds the kubelet allows between SIGTERM and SIGKILL.</summary>
    public int TerminationGracePeriodSeconds => PreStopSeconds + StreamDrainSeconds + 10;

    /// <summary>The section bound and checked: a wrong value is a message before anything is written.</summary>
    public static PublishSettings From(IConfiguration configuration)
    {
        var settings = new PublishSettings();
        configuration.GetSection(SectionName).Bind(settings);
        settings.Validate();
        return settings;
    }

    public void Validate()
    {
        if (StreamDrainSeconds < 1 || PreStopSeconds < 0)
        {
            throw new DistributedApplicationException("Publish:StreamDrainSeconds must be at least 1 and Publish:PreStopSeconds at least 0.");
        }

        if (ExternalServiceType is not ("LoadBalancer" or "NodePort" or "ClusterIP"))
        {
            throw new DistributedApplicationException($"Publish:ExternalServiceType is '{ExternalServiceType}': expected LoadBalancer, NodePort or ClusterIP.");
        }

        if (Autoscaling.CpuUtilization is < 1 or > 100 || Autoscaling.MaxReplicas < 1)
        {
            throw new DistributedApplicationException("Publish:Autoscaling:CpuUtilization must be 1-100 and Publish:Autoscaling:MaxReplicas at least 1.");
        }

        if (OtlpProtocol is not ("grpc" or "http/protobuf"))
        {
            throw new DistributedApplicationException($"Publish:OtlpProtocol is '{OtlpProtocol}': expected grpc or http/protobuf.");
        }
    }

    /// <summary>The tag Directory.Build.targets gives every service image, stamped into the AppHost at build time.</summary>
    private static string BuiltImageTag() =>
        typeof(PublishSettings).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "ChatImageTag")?.Value is { Length: > 0 } tag ? tag : "latest";

    internal static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

public sealed class AutoscalingSettings
{
    /// <summary>Upper bound of every transport's HorizontalPodAutoscaler; the lower bound is the resource's replica count.</summary>
    public int MaxReplicas { get; set; } = 10;

    /// <summary>Average CPU utilization (of the request) the autoscaler aims for.</summary>
    public int CpuUtilization { get; set; } = 70;
}

/// <summary>Kubernetes quantities ("250m", "256Mi").</summary>
public sealed class ContainerResources
{
    public string? CpuRequest { get; set; }

    public string? MemoryRequest { get; set; }

    public string? CpuLimit { get; set; }

    public string? MemoryLimit { get; set; }
}
