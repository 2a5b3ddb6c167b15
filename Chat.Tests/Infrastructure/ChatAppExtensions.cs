using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Infrastructure;

/// <summary>One process of the graph as a test sees it: "sse-1" is the second replica of sse.</summary>
/// <param name="Name">The resource's name in the graph ("llm", "sse-1").</param>
/// <param name="ResourceId">DCP's name for it ("sse-1-xkcdqzr"); service.instance.id is the part after the name.</param>
public sealed record ReplicaSnapshot(
    string Name,
    string ResourceId,
    string? State,
    string? Health,
    int? ProcessId,
    int? ExitCode,
    IReadOnlyDictionary<string, string> Environment)
{
    public string InstanceId => ResourceId[(Name.Length + 1)..];
}

/// <summary>What tests ask of a running graph, on top of Aspire.Hosting.Testing's own helpers.</summary>
public static class ChatAppExtensions
{
    /// <summary>Every resource with a process (Redis, services): running and healthy.</summary>
    public static async Task WaitForAllResourcesHealthyAsync(this DistributedApplication app, CancellationToken cancellationToken = default)
    {
        foreach (var resource in app.ProcessResources())
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(resource.Name, WaitBehavior.StopOnResourceUnavailable, cancellationToken);
        }
    }

    public static IReadOnlyList<IResource> ProcessResources(this DistributedApplication app) =>
        app.Services.GetRequiredService<DistributedApplicationModel>().Resources
            .Where(r => r is ProjectResource or RedisServerResource).ToList();

    /// <summary>
    /// The named resource ("llm-1"), or, for a service name ("sse"), every replica of it ("sse", "sse-1", …), in order.
    /// </summary>
    public static IReadOnlyList<ReplicaSnapshot> GetResourceSnapshots(this DistributedApplication app, string name)
    {
        var resources = app.ProcessResources()
            .Where(r => r.Name == name || (r.Name.StartsWith(name + "-", StringComparison.Ordinal) && int.TryParse(r.Name.AsSpan(name.Length + 1), out _)))
            .OrderBy(r => r.Name.Length).ThenBy(r => r.Name, StringComparer.Ordinal)
            .ToList();
        if (resources.Count == 0)
        {
            throw new ArgumentException($"No resource named '{name}'.", nameof(name));
        }

        return resources.Select(resource => app.Snapshot(resource)).ToList();
    }

    private static ReplicaSnapshot Snapshot(this DistributedApplication app, IResource resource)
    {
        if (!app.Services.GetRequiredService<ResourceStates>().TryGet(resource.Name, out var current))
        {
            return new ReplicaSnapshot(resource.Name, resource.Name, null, null, null, null, new Dictionary<string, string>());
        }

        var resourceId = current.ResourceId;

        var snapshot = current.Snapshot;
        var pid = snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value switch
        {
            int value => value,
            long value => (int)value,
            string text when int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => (int?)null,
        };
        return new ReplicaSnapshot(resource.Name, resourceId, snapshot.State?.Text, snapshot.HealthStatus?.ToString(), pid, snapshot.ExitCode,
            snapshot.EnvironmentVariables.GroupBy(e => e.Name).ToDictionary(g => g.Key, g => g.Last().Value ?? ""));
    }

    /// <summary>SIGKILLs one replica's process, as a crash would; the restart policy brings it back.</summary>
    public static async Task<int> KillReplicaAsync(this DistributedApplication app, string replicaName)
    {
        var replica = app.GetResourceSnapshots(replicaName).Single(r => r.Name == replicaName);
        var pid = replica.ProcessId ?? throw new InvalidOperationException($"{replicaName} has no process ({replica.State}).");
        using var process = System.Diagnostics.Process.GetProcessById(pid);
        process.Kill();
        await process.WaitForExitAsync().DefaultTimeout();
        return pid;
    }

    /// <summary>Waits until the replica runs again under a new process id (after a crash and the policy's restart).</summary>
    public static async Task<ReplicaSnapshot> WaitForNewProcessAsync(this DistributedApplication app, string replicaName, int oldProcessId, TimeSpan within)
    {
        await app.ResourceNotifications.WaitForResourceAsync(replicaName, e =>
            e.Snapshot.State?.Text == KnownResourceStates.Running
            && e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy
            && e.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value is { } pid
            && Convert.ToInt32(pid, CultureInfo.InvariantCulture) != oldProcessId).WaitAsync(within);
        return app.GetResourceSnapshots(replicaName).Single(r => r.Name == replicaName);
    }

    public static Task<ExecuteCommandResult> ExecuteCommandAsync(this DistributedApplication app, string replicaName, string command)
    {
        var resourceId = app.GetResourceSnapshots(replicaName).Single(r => r.Name == replicaName).ResourceId;
        return app.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(resourceId, command);
    }

    /// <summary>The console output of one replica so far, across its restarts (for assertions and failure messages).</summary>
    public static Task<string> GetConsoleLogAsync(this DistributedApplication app, string replicaName, int maxLines = 200) =>
        Task.FromResult(string.Join('\n', app.Services.GetRequiredService<ResourceStates>().ConsoleOf(replicaName).TakeLast(maxLines).Select(line => line.Content)));

    /// <summary>Waits until a resource's console output (across restarts) satisfies <paramref name="condition"/>; logs arrive after states.</summary>
    public static async Task<string> WaitForConsoleLogAsync(this DistributedApplication app, string replicaName, Func<string, bool> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var log = await app.GetConsoleLogAsync(replicaName, int.MaxValue);
            if (condition(log))
            {
                return log;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{replicaName}'s console never showed what was expected within {within}:\n{log}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Process ids of every running replica (to check none outlives the application).</summary>
    public static IReadOnlyList<int> GetProcessIds(this DistributedApplication app) =>
        app.ProcessResources().Select(r => app.Snapshot(r).ProcessId).OfType<int>().ToList();

    /// <summary>The secret the transports present to the LLM service (Llm__InternalApiKey).</summary>
    public static async Task<string> GetInternalApiKeyAsync(this DistributedApplication app)
    {
        var parameter = app.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<ParameterResource>()
            .Single(p => p.Name == InternalCredentialExtensions.ParameterName);
        return await parameter.GetValueAsync(default) ?? throw new InvalidOperationException("The internal key has no value.");
    }

    /// <summary>
    /// A gRPC channel (cleartext HTTP/2) to a resource's "http" endpoint; the LLM service is called with the internal
    /// credential, as the transports call it (<see cref="CreateUnauthenticatedGrpcChannel"/> is the channel of a stranger).
    /// </summary>
    public static async Task<GrpcChannel> CreateGrpcChannelAsync(this DistributedApplication app, string resourceName, string endpointName = "http")
    {
        var address = app.GetEndpoint(resourceName, endpointName);
        if (!resourceName.StartsWith("llm", StringComparison.Ordinal))
        {
            return GrpcChannel.ForAddress(address);
        }

        var key = await app.GetInternalApiKeyAsync();
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = new InternalKeyHandler(key) { InnerHandler = new SocketsHttpHandler() } });
    }

    public static GrpcChannel CreateUnauthenticatedGrpcChannel(this DistributedApplication app, string resourceName, string endpointName = "http") =>
        GrpcChannel.ForAddress(app.GetEndpoint(resourceName, endpointName));

    private sealed class InternalKeyHandler(string key) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.TryAddWithoutValidation(Chat.Contracts.Security.InternalCredential.MetadataKey, key);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
