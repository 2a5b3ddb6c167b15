using Chat.Dashboard.Resources;
using Chat.Hosting.Orchestration;
using Grpc.Net.Client;

namespace Chat.Hosting.Testing;

/// <summary>What tests ask of a running application (Aspire's DistributedApplicationHostingTestingExtensions and more).</summary>
public static class DistributedApplicationTestingExtensions
{
    /// <summary>
    /// The address of an endpoint of a resource's first replica, or of a named replica ("llm-1").
    /// <paramref name="endpointName"/> defaults to the first endpoint ("http").
    /// </summary>
    public static Uri GetEndpoint(this DistributedApplication app, string resourceOrReplica, string? endpointName = null)
    {
        var replica = app.GetResourceSnapshots(resourceOrReplica)[0];
        var endpoint = endpointName is null ? replica.Endpoints[0] : replica.Endpoints.FirstOrDefault(e => e.Name == endpointName)
            ?? throw new ArgumentException($"{replica.Name} has no endpoint '{endpointName}'; it has {string.Join(", ", replica.Endpoints.Select(e => e.Name))}.", nameof(endpointName));
        return new Uri(endpoint.Url);
    }

    public static HttpClient CreateHttpClient(this DistributedApplication app, string resourceOrReplica, string? endpointName = null) =>
        new() { BaseAddress = app.GetEndpoint(resourceOrReplica, endpointName) };

    /// <summary>
    /// A gRPC channel (cleartext HTTP/2) to an endpoint; dispose it with the test. A resource given an internal
    /// credential (<c>Llm__InternalApiKey</c>, the LLM service) is called with it, as the transports call it:
    /// <see cref="CreateUnauthenticatedGrpcChannel"/> is the channel of a stranger.
    /// </summary>
    public static GrpcChannel CreateGrpcChannel(this DistributedApplication app, string resourceOrReplica, string? endpointName = null)
    {
        var address = app.GetEndpoint(resourceOrReplica, endpointName);
        var key = app.GetInternalApiKey(resourceOrReplica);
        return key is null
            ? GrpcChannel.ForAddress(address)
            : GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = new InternalKeyHandler(key) { InnerHandler = new SocketsHttpHandler() } });
    }

    public static GrpcChannel CreateUnauthenticatedGrpcChannel(this DistributedApplication app, string resourceOrReplica, string? endpointName = null) =>
        GrpcChannel.ForAddress(app.GetEndpoint(resourceOrReplica, endpointName));

    /// <summary>The internal credential the AppHost gave a resource (snapshots show it redacted), or null.</summary>
    public static string? GetInternalApiKey(this DistributedApplication app, string resourceOrReplica)
    {
        var resourceName = app.GetResourceSnapshots(resourceOrReplica)[0].Resource;
        return app.Orchestrator.Model.FirstOrDefault(r => r.Name == resourceName)?.Environment
            .GetValueOrDefault(InternalCredentialExtensions.EnvironmentName) is { Length: > 0 } key ? key : null;
    }

    private sealed class InternalKeyHandler(string key) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.TryAddWithoutValidation("x-chat-internal-key", key); // Chat.Contracts.Security.InternalCredential.MetadataKey
            return base.SendAsync(request, cancellationToken);
        }
    }

    public static Task WaitForResourceHealthyAsync(this DistributedApplication app, string resourceOrReplica, CancellationToken cancellationToken = default) =>
        app.ResourceNotifications.WaitForResourceHealthyAsync(resourceOrReplica, cancellationToken);

    /// <summary>Every replica of every resource is running and healthy.</summary>
    public static async Task WaitForAllResourcesHealthyAsync(this DistributedApplication app, CancellationToken cancellationToken = default)
    {
        foreach (var resource in app.Resources.GetResources().Select(r => r.Resource).Distinct())
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellationToken);
        }
    }

    /// <summary>The replicas of a resource (or the one named replica) as they are now.</summary>
    public static IReadOnlyList<ResourceSnapshot> GetResourceSnapshots(this DistributedApplication app, string resourceOrReplica)
    {
        var snapshots = app.ResourceNotifications.GetSnapshots(resourceOrReplica);
        return snapshots.Count > 0 ? snapshots
            : throw new ArgumentException($"No resource or replica named '{resourceOrReplica}'.", nameof(resourceOrReplica));
    }

    /// <summary>The connection string the AppHost injects as ConnectionStrings__&lt;name&gt;.</summary>
    public static string? GetConnectionString(this DistributedApplication app, string resourceName) =>
        app.Orchestrator.GetConnectionString(resourceName);

    /// <summary>SIGKILLs one replica's process, as a crash would; the supervisor restarts it.</summary>
    public static async Task KillReplicaAsync(this DistributedApplication app, string replicaName, CancellationToken cancellationToken = default)
    {
        if (!await app.Resources.ExecuteCommandAsync(replicaName, "kill", cancellationToken))
        {
            throw new ArgumentException($"No replica named '{replicaName}'.", nameof(replicaName));
        }
    }

    public static async Task RestartReplicaAsync(this DistributedApplication app, string replicaName, CancellationToken cancellationToken = default)
    {
        if (!await app.Resources.ExecuteCommandAsync(replicaName, "restart", cancellationToken))
        {
            throw new ArgumentException($"No replica named '{replicaName}'.", nameof(replicaName));
        }
    }

    /// <summary>The console output of one replica, for assertions and for failure messages.</summary>
    public static string GetConsoleLog(this DistributedApplication app, string replicaName, int maxLines = 200) =>
        string.Join('\n', app.Resources.GetConsoleLogs(replicaName, maxLines).Select(l => l.Text));

    /// <summary>Process ids of every running replica (to check none outlives the application).</summary>
    public static IReadOnlyList<int> GetProcessIds(this DistributedApplication app) =>
        app.Resources.GetResources().Where(r => r.ProcessId is not null).Select(r => r.ProcessId!.Value).ToList();

    public static bool IsTerminal(this ResourceSnapshot snapshot) =>
        snapshot.State is ReplicaStates.Exited or ReplicaStates.Stopped or ReplicaStates.FailedToStart;
}
