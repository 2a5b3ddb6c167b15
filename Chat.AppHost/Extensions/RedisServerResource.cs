namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// Redis as a local process (redis-server, or Garnet run by dotnet) that looks to its consumers exactly like Aspire's
/// container-based RedisResource: a "tcp" endpoint and a connection string (ConnectionStrings__&lt;name&gt;).
/// </summary>
public sealed class RedisServerResource(string name, string command, string workingDirectory, RedisServerKind kind)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public RedisServerKind Kind { get; } = kind;

    public EndpointReference Tcp => new(this, EndpointName);

    // 127.0.0.1 rather than localhost: the server binds IPv4 loopback only, and a client trying ::1 first would wait.
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"127.0.0.1:{Tcp.Property(EndpointProperty.Port)}");

    IEnumerable<KeyValuePair<string, ReferenceExpression>> IResourceWithConnectionString.GetConnectionProperties() =>
    [
        new("Host", ReferenceExpression.Create($"127.0.0.1")),
        new("Port", ReferenceExpression.Create($"{Tcp.Property(EndpointProperty.Port)}")),
    ];
}

public enum RedisServerKind
{
    RedisServer,
    Garnet,
}
