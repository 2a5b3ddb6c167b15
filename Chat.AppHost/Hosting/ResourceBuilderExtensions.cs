using Microsoft.Extensions.Configuration;

namespace Chat.Hosting;

/// <summary>The Aspire builder vocabulary, for the subset of resources this application uses.</summary>
public static class ResourceBuilderExtensions
{
    public const string DefaultEndpointName = "http";

    /// <summary>A project of this repository (a generated Projects.&lt;Name&gt; class), with an "http" endpoint on a free port.</summary>
    public static IResourceBuilder<ProjectResource> AddProject<TProject>(this DistributedApplicationBuilder builder, string name)
        where TProject : IProjectMetadata, new()
    {
        var resource = new ProjectResource(name, new TProject());
        resource.Endpoints.Add(new EndpointSpec(DefaultEndpointName, Port: null, IsHttp2: false, UrlEnvironmentVariable: null, IsExternal: false));
        return builder.AddResource(resource);
    }

    /// <summary>Any program, run from <paramref name="workingDirectory"/> with the replica environment.</summary>
    public static IResourceBuilder<ExecutableResource> AddExecutable(this DistributedApplicationBuilder builder, string name, string command, string workingDirectory, params string[] args) =>
        builder.AddResource(new ExecutableResource(name, command, workingDirectory, args));

    /// <summary>Redis for the resources that reference it (ConnectionStrings__&lt;name&gt;); healthy when it answers PING.</summary>
    public static IResourceBuilder<RedisResource> AddRedis(this DistributedApplicationBuilder builder, string name, int? port = null)
    {
        var resource = new RedisResource(name, port);
        resource.Endpoints.Add(new EndpointSpec("tcp", port, IsHttp2: false, UrlEnvironmentVariable: null, IsExternal: false));
        return builder.AddResource(resource);
    }

    /// <summary>
    /// Injects the source's connection string (Redis: ConnectionStrings__&lt;name&gt;) or the address of every replica of
    /// every endpoint (projects: services__&lt;name&gt;__&lt;endpoint&gt;__&lt;replica&gt;).
    /// </summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> builder, IResourceBuilder<Resource> source)
        where T : Resource
    {
        if (!builder.Resource.References.Contains(source.Resource))
        {
            builder.Resource.References.Add(source.Resource);
        }

        return builder;
    }

    /// <summary>Starts this resource only once every replica of <paramref name="dependency"/> is healthy.</summary>
    public static IResourceBuilder<T> WaitFor<T>(this IResourceBuilder<T> builder, IResourceBuilder<Resource> dependency)
        where T : Resource
    {
        if (!builder.Resource.WaitsFor.Contains(dependency.Resource))
        {
            builder.Resource.WaitsFor.Add(dependency.Resource);
        }

        return builder;
    }

    /// <summary>
    /// Runs <paramref name="replicas"/> processes, each on its own port. Configuration wins over code:
    /// Replicas:&lt;name&gt; or the command line's --replicas name=n,other=m.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithReplicas(this IResourceBuilder<ProjectResource> builder, int replicas)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        builder.Resource.Replicas = replicas;
        return builder;
    }

    /// <summary>An HTTP/1.1 endpoint; the one named "http" replaces the default. Without <paramref name="env"/> it goes into ASPNETCORE_URLS.</summary>
    public static IResourceBuilder<T> WithHttpEndpoint<T>(this IResourceBuilder<T> builder, int? port = null, string? name = null, string? env = null)
        where T : Resource => builder.WithEndpoint(new EndpointSpec(name ?? DefaultEndpointName, port, IsHttp2: false, env, IsExternal: false));

    /// <summary>A cleartext HTTP/2 (h2c) endpoint, probed with HTTP/2 prior knowledge; <paramref name="env"/> receives its URL.</summary>
    public static IResourceBuilder<T> WithHttp2Endpoint<T>(this IResourceBuilder<T> builder, int? port = null, string? name = null, string? env = null)
        where T : Resource => builder.WithEndpoint(new EndpointSpec(name ?? DefaultEndpointName, port, IsHttp2: true, env, IsExternal: false));

    /// <summary>Every endpoint of the project speaks HTTP/2 only (Kestrel EndpointDefaults:Protocols=Http2), as Aspire's AsHttp2Service.</summary>
    public static IResourceBuilder<T> AsHttp2Service<T>(this IResourceBuilder<T> builder) where T : Resource
    {
        var endpoints = builder.Resource.Endpoints;
        for (var i = 0; i < endpoints.Count; i++)
        {
            endpoints[i] = endpoints[i] with { IsHttp2 = true };
        }

        return builder;
    }

    /// <summary>Marks the endpoints as public: they are printed at start (and would be exposed by a publisher).</summary>
    public static IResourceBuilder<T> WithExternalHttpEndpoints<T>(this IResourceBuilder<T> builder) where T : Resource
    {
        var endpoints = builder.Resource.Endpoints;
        for (var i = 0; i < endpoints.Count; i++)
        {
            endpoints[i] = endpoints[i] with { IsExternal = true };
        }

        return builder;
    }

    /// <summary>Polls GET <paramref name="path"/> on the first endpoint of every replica; 2xx is healthy.</summary>
    public static IResourceBuilder<T> WithHttpHealthCheck<T>(this IResourceBuilder<T> builder, string path = "/health")
        where T : Resource
    {
        builder.Resource.HealthCheckPath = path;
        return builder;
    }

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, string? value)
        where T : Resource
    {
        if (value is null)
        {
            builder.Resource.Environment.Remove(name);
        }
        else
        {
            builder.Resource.Environment[name] = value;
        }

        return builder;
    }

    /// <summary>
    /// Passes a section of the AppHost's configuration through as environment variables (Llm:Offline:InterTokenDelayMs
    /// → Llm__Offline__InterTokenDelayMs), so `dotnet run --project Chat.AppHost -- --Llm:Provider=offline` reaches the service.
    /// </summary>
    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, IConfigurationSection section)
        where T : Resource
    {
        foreach (var (key, value) in section.AsEnumerable())
        {
            if (value is not null)
            {
                builder.Resource.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
            }
        }

        return builder;
    }

    private static IResourceBuilder<T> WithEndpoint<T>(this IResourceBuilder<T> builder, EndpointSpec endpoint) where T : Resource
    {
        var endpoints = builder.Resource.Endpoints;
        var existing = endpoints.FindIndex(e => e.Name == endpoint.Name);
        if (existing >= 0)
        {
            endpoints[existing] = endpoint;
        }
        else
        {
            endpoints.Add(endpoint);
        }

        return builder;
    }
}
