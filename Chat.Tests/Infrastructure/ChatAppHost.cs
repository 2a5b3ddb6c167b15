using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// Starts Chat.AppHost's graph with Aspire.Hosting.Testing (DCP, real processes, real Redis), with what every test
/// wants: a throw-away Redis data folder, fast restarts after a crash, no telemetry leaving for a developer's running
/// dashboard. Settings are passed as command-line arguments, which win over every other configuration source.
/// </summary>
public static class ChatAppHost
{
    /// <summary>The offline model answering at once: most tests are about the system, not the pacing.</summary>
    public static readonly IReadOnlyDictionary<string, string?> FastOfflineModel = new Dictionary<string, string?>
    {
        ["Llm:Provider"] = "offline",
        ["Llm:Offline:TimeToFirstTokenMs"] = "0",
        ["Llm:Offline:InterTokenDelayMs"] = "0",
    };

    /// <param name="args">The AppHost's own command line (e.g. "--replicas", "sse=2").</param>
    /// <param name="settings">Configuration keys (Llm:Provider, Gateway:ApiKeys:alice:Key…), given as --Key=Value.</param>
    /// <param name="enableDashboard">Run the Aspire dashboard too (Aspire.Hosting.Testing leaves it off).</param>
    public static async Task<IDistributedApplicationTestingBuilder> CreateAsync(
        string[]? args = null, IReadOnlyDictionary<string, string?>? settings = null, bool enableDashboard = false)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("chat-apphost-test-").FullName;
        var defaults = new Dictionary<string, string?>
        {
            ["Redis:DataDirectory"] = dataDirectory,
            ["AppHost:RestartDelayMs"] = "200",
        };
        if (enableDashboard)
        {
            // As the run command's launch profile has it: no login token, plain HTTP on loopback.
            defaults["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
            defaults["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        }
        else
        {
            // No OTLP collector in tests unless a test brings one: the services' exporters get a closed local port.
            defaults["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = "http://127.0.0.1:9";
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            defaults[key] = value;
        }

        var commandLine = (args ?? []).Concat(defaults.Where(pair => pair.Value is not null).Select(pair => $"--{pair.Key}={pair.Value}")).ToArray();
        // DisableDashboard = false (not the EnableDashboard option, which forces a login token): the dashboard as the
        // run command's launch profile has it, anonymous on loopback.
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Chat_AppHost>(
            commandLine, (options, _) => options.DisableDashboard = !enableDashboard).DefaultTimeout();
        builder.Services.AddSingleton(new TemporaryDirectory(dataDirectory));
        return builder.WithResourceStates();
    }

    /// <summary>Keeps every resource's latest state by name, for <see cref="ChatAppExtensions.GetResourceSnapshots"/>.</summary>
    public static IDistributedApplicationTestingBuilder WithResourceStates(this IDistributedApplicationTestingBuilder builder)
    {
        builder.Services.AddSingleton<ResourceStates>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ResourceStates>());
        return builder;
    }

    /// <summary>
    /// Builds and starts the graph and waits until every resource is healthy; a graph that fails on the way is stopped
    /// before the failure propagates, so no process outlives the test.
    /// </summary>
    public static async Task<DistributedApplication> StartHealthyAsync(this IDistributedApplicationTestingBuilder builder, TimeSpan? healthyWithin = null)
    {
        var app = await builder.BuildAsync().DefaultTimeout();
        try
        {
            await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(90));
            await app.WaitForAllResourcesHealthyAsync().WaitAsync(healthyWithin ?? TimeSpan.FromSeconds(90));
            return app;
        }
        catch (Exception e)
        {
            // What the processes that did not come up said is the only clue to why.
            var report = new System.Text.StringBuilder();
            foreach (var resource in app.ProcessResources())
            {
                var snapshot = app.GetResourceSnapshots(resource.Name).First(r => r.Name == resource.Name);
                if (snapshot.State != "Running" || snapshot.Health != "Healthy")
                {
                    report.AppendLine($"--- {resource.Name}: {snapshot.State ?? "no state"}, {snapshot.Health ?? "no health"}, exit {snapshot.ExitCode}");
                    report.AppendLine(await app.GetConsoleLogAsync(resource.Name, 60));
                }
            }

            await app.DisposeAsync();
            throw new InvalidOperationException($"The graph did not become healthy: {e.Message}\n{report}", e);
        }
    }

    /// <summary>Create, build, start and wait: the whole graph of Program.cs, healthy.</summary>
    public static async Task<DistributedApplication> StartAsync(string[]? args = null, IReadOnlyDictionary<string, string?>? settings = null, bool enableDashboard = false) =>
        await (await CreateAsync(args, settings, enableDashboard)).StartHealthyAsync();

    /// <summary>Deleted when the application is disposed (the container disposes its singletons).</summary>
    private sealed class TemporaryDirectory(string path) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

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

/// <summary>
/// The latest state of every resource by its name in the graph (one process each: replicas are resources), and its
/// whole console output since the start, across restarts (Aspire's log stream begins anew with every run).
/// </summary>
internal sealed class ResourceStates(ResourceNotificationService notifications, ResourceLoggerService logs) : Microsoft.Extensions.Hosting.BackgroundService
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ResourceEvent> _latest = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, List<LogLine>> _console = new(StringComparer.Ordinal);
    private readonly List<Task> _watches = [];

    public bool TryGet(string name, out ResourceEvent state) => _latest.TryGetValue(name, out state!);

    public IReadOnlyList<LogLine> ConsoleOf(string name)
    {
        if (!_console.TryGetValue(name, out var lines))
        {
            return [];
        }

        lock (lines)
        {
            return lines.ToList();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var change in notifications.WatchAsync(stoppingToken))
            {
                _latest[change.Resource.Name] = change;
                if (_console.TryAdd(change.Resource.Name, []))
                {
                    _watches.Add(CaptureAsync(change.Resource.Name, change.ResourceId, stoppingToken));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(_watches);
    }

    private async Task CaptureAsync(string name, string resourceId, CancellationToken stoppingToken)
    {
        var lines = _console[name];
        try
        {
            await foreach (var batch in logs.WatchAsync(resourceId).WithCancellation(stoppingToken))
            {
                lock (lines)
                {
                    lines.AddRange(batch);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
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
