namespace Chat.Hosting;

/// <summary>A named part of the application graph, run as one or more replicas.</summary>
public abstract class Resource(string name)
{
    public string Name { get; } = name;

    /// <summary>"Project", "Executable" or "External": what the dashboard shows as the resource type.</summary>
    public abstract string Type { get; }

    public int Replicas { get; internal set; } = 1;

    public List<EndpointSpec> Endpoints { get; } = [];

    /// <summary>Resources whose address or connection string this one receives (WithReference).</summary>
    public List<Resource> References { get; } = [];

    /// <summary>Resources that must be healthy before this one starts (WaitFor).</summary>
    public List<Resource> WaitsFor { get; } = [];

    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>HTTP path polled for health (WithHttpHealthCheck); null: healthy as soon as it runs.</summary>
    public string? HealthCheckPath { get; internal set; }

    public override string ToString() => Name;
}

/// <param name="Name">"http", "http2"…: the key in services__&lt;resource&gt;__&lt;name&gt;__&lt;replica&gt;.</param>
/// <param name="Port">Fixed port (only with one replica); null picks a free one.</param>
/// <param name="IsHttp2">Cleartext HTTP/2 with prior knowledge (h2c): gRPC-only Kestrel endpoints.</param>
/// <param name="UrlEnvironmentVariable">Receives this endpoint's URL; null: the endpoint goes into ASPNETCORE_URLS.</param>
/// <param name="IsExternal">Meant for clients outside the application (WithExternalHttpEndpoints); printed at start.</param>
public sealed record EndpointSpec(string Name, int? Port, bool IsHttp2, string? UrlEnvironmentVariable, bool IsExternal);

/// <summary>A .NET project of this repository, run with `dotnet &lt;Assembly&gt;.dll` from its build output.</summary>
public sealed class ProjectResource(string name, IProjectMetadata project) : Resource(name)
{
    public IProjectMetadata Project { get; } = project;

    public override string Type => "Project";
}

/// <summary>Any program (Aspire's AddExecutable): no endpoint unless declared, healthy while it runs.</summary>
public sealed class ExecutableResource(string name, string command, string workingDirectory, IReadOnlyList<string> args) : Resource(name)
{
    public string Command { get; } = command;

    public string WorkingDirectory { get; } = workingDirectory;

    public IReadOnlyList<string> Args { get; } = args;

    public override string Type => "Executable";
}

/// <summary>
/// Redis: an external server when ConnectionStrings:&lt;name&gt; is configured, else redis-server when installed, else
/// Garnet from the repository's dotnet tool manifest. See RedisServerResolver.
/// </summary>
public sealed class RedisResource(string name, int? port) : Resource(name)
{
    public int? Port { get; } = port;

    /// <summary>Decided at start: External, redis-server or garnet.</summary>
    public RedisServerKind? Kind { get; internal set; }

    public override string Type => Kind == RedisServerKind.External ? "External" : "Executable";
}

public enum RedisServerKind
{
    External,
    RedisServer,
    Garnet,
}

public interface IResourceBuilder<out T> where T : Resource
{
    T Resource { get; }

    DistributedApplicationBuilder ApplicationBuilder { get; }
}

internal sealed class ResourceBuilder<T>(T resource, DistributedApplicationBuilder applicationBuilder) : IResourceBuilder<T>
    where T : Resource
{
    public T Resource { get; } = resource;

    public DistributedApplicationBuilder ApplicationBuilder { get; } = applicationBuilder;
}
