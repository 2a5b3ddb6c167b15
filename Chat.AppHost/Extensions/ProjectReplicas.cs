using System.Globalization;
using System.Reflection;
using System.Runtime.Versioning;
using Aspire.Hosting.ApplicationModel;

namespace Aspire.Hosting;

/// <summary>
/// One service run as several processes. In run mode each replica is its own project resource ("sse", "sse-1", …,
/// nested under the first in the dashboard) with a proxyless endpoint, and a consumer receives every replica's address
/// (services__sse__http__0, services__sse__http__1…), so the gateway and the transports balance new streams and calls
/// across replicas themselves. Aspire's WithReplicas would put DCP's L4 proxy in front: one more process hop on the
/// token path, and every long-lived HTTP/2, WebSocket or SSE connection pinned to one replica (docs/apphost.md).
/// In publish mode it is one resource with WithReplicas(n): a Deployment with n pods behind one Service.
/// </summary>
public sealed class ProjectReplicas(string name, IReadOnlyList<IResourceBuilder<ProjectResource>> replicas)
{
    public string Name { get; } = name;

    public IReadOnlyList<IResourceBuilder<ProjectResource>> Replicas { get; } = replicas;

    public IResourceBuilder<ProjectResource> First => Replicas[0];
}

public static class ProjectReplicasExtensions
{
    /// <summary>
    /// Adds <paramref name="name"/> as <paramref name="replicas"/> replicas (Replicas:&lt;name&gt; or
    /// <c>--replicas name=n,other=m</c> override the count), each given an "http" endpoint and then
    /// <paramref name="configure"/>.
    /// </summary>
    public static ProjectReplicas AddProjectReplicas<TProject>(this IDistributedApplicationBuilder builder, string name, int replicas,
        Func<IResourceBuilder<ProjectResource>, IResourceBuilder<ProjectResource>> configure)
        where TProject : IProjectMetadata, new()
    {
        var count = builder.ReplicaCount(name, replicas);
        if (builder.ExecutionContext.IsPublishMode)
        {
            var published = configure(builder.AddProject<TProject>(name, launchProfileName: null).WithHttpEndpoint(name: "http"));
            return new ProjectReplicas(name, [count > 1 ? published.WithReplicas(count) : published]);
        }

        var list = new List<IResourceBuilder<ProjectResource>>(count);
        for (var i = 0; i < count; i++)
        {
            var replica = builder.AddProject<TProject>(i == 0 ? name : $"{name}-{i}", launchProfileName: null)
                .WithHttpEndpoint(name: "http", isProxied: false)
                .WithBuiltOutputLaunch()
                .WithoutDevelopmentCertificate();
            if (i > 0)
            {
                replica.WithParentRelationship(list[0]);
            }

            list.Add(configure(replica));
        }

        return new ProjectReplicas(name, list);
    }

    /// <summary>
    /// Service discovery for every replica of <paramref name="source"/>: services__&lt;name&gt;__&lt;endpoint&gt;__&lt;i&gt; with
    /// replica i's own address (the key of an endpoint named http/https is its scheme, as Aspire writes it).
    /// </summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> builder, ProjectReplicas source)
        where T : IResourceWithEnvironment
    {
        if (builder.ApplicationBuilder.ExecutionContext.IsPublishMode)
        {
            return builder.WithReference(source.First);
        }

        for (var i = 0; i < source.Replicas.Count; i++)
        {
            foreach (var endpoint in source.Replicas[i].Resource.Annotations.OfType<EndpointAnnotation>())
            {
                var key = endpoint.Name is "http" or "https" ? endpoint.UriScheme : endpoint.Name;
                builder.WithEnvironment($"services__{source.Name}__{key}__{i.ToString(CultureInfo.InvariantCulture)}",
                    source.Replicas[i].GetEndpoint(endpoint.Name));
            }
        }

        return builder;
    }

    /// <summary>Applies <paramref name="configure"/> to every replica (e.g. a WaitFor added after the set exists).</summary>
    public static ProjectReplicas ForEach(this ProjectReplicas replicas, Action<IResourceBuilder<ProjectResource>> configure)
    {
        foreach (var replica in replicas.Replicas)
        {
            configure(replica);
        }

        return replicas;
    }

    /// <summary>Replicas:&lt;name&gt;, else the name=count pair of --replicas, else the graph's own count.</summary>
    public static int ReplicaCount(this IDistributedApplicationBuilder builder, string name, int defaultCount)
    {
        string? configured = builder.Configuration[$"Replicas:{name}"];
        foreach (var pair in (builder.Configuration["replicas"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            if (string.Equals(parts[0], name, StringComparison.OrdinalIgnoreCase))
            {
                configured = parts.Length == 2 ? parts[1] : "";
            }
        }

        if (configured is null)
        {
            return defaultCount;
        }

        return int.TryParse(configured, NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) && count >= 1
            ? count
            : throw new DistributedApplicationException(
                $"--replicas {name}={configured}: expected a count of at least 1 (e.g. --replicas sse=3,websocket=2).");
    }

    /// <summary>Every name in --replicas / Replicas: must be a replicated service of the graph.</summary>
    public static void ValidateReplicaNames(this IDistributedApplicationBuilder builder, params ProjectReplicas[] services)
    {
        var names = builder.Configuration.GetSection("Replicas").GetChildren().Select(child => child.Key)
            .Concat((builder.Configuration["replicas"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(pair => pair.Split('=', 2, StringSplitOptions.TrimEntries)[0]));
        foreach (var name in names)
        {
            if (!services.Any(service => string.Equals(service.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new DistributedApplicationException(
                    $"--replicas names '{name}', which is not a service that can be scaled. Services: {string.Join(", ", services.Select(s => s.Name))}.");
            }
        }
    }
}

public static class BuiltOutputLaunchExtensions
{
    private static readonly Assembly s_appHost = typeof(BuiltOutputLaunchExtensions).Assembly;

    /// <summary>
    /// Starts the project's build output (bin/&lt;Configuration&gt;/&lt;tfm&gt;/&lt;Name&gt;) directly instead of through
    /// Aspire's default `dotnet run --project … --no-build`, whose `dotnet run` host stays alive beside every service
    /// (~130 MB each; docs/apphost.md). An ExecutableAnnotation on a project is the seam Aspire's project launcher reads
    /// for its command and working directory. The AppHost's build has built every referenced project in the same
    /// configuration; if the output is missing, Aspire's default launch stays.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithBuiltOutputLaunch(this IResourceBuilder<ProjectResource> builder)
    {
        var project = builder.Resource.GetProjectMetadata();
        var configuration = s_appHost.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var framework = new FrameworkName(s_appHost.GetCustomAttribute<TargetFrameworkAttribute>()!.FrameworkName);
        var directory = Path.Combine(Path.GetDirectoryName(project.ProjectPath)!, "bin", configuration,
            $"net{framework.Version.Major}.{framework.Version.Minor}");
        var program = Path.Combine(directory, Path.GetFileNameWithoutExtension(project.ProjectPath));
        if (!File.Exists(program))
        {
            return builder;
        }

        return builder.WithAnnotation(new ExecutableAnnotation { Command = program, WorkingDirectory = directory },
            ResourceAnnotationMutationBehavior.Replace);
    }
}
