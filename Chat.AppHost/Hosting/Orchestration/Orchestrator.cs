using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Chat.Dashboard.Resources;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Chat.Hosting.Orchestration;

/// <summary>
/// Runs the graph: checks what can be checked before starting anything (build output, ports, Redis), gives every
/// replica its ports and environment, starts each resource once what it waits for is healthy, supervises the
/// replicas, and stops them dependants first. Also the IResourceSource the dashboard reads.
/// </summary>
internal sealed partial class Orchestrator(ApplicationModel model, IHostEnvironment environment, ILoggerFactory loggers)
    : IHostedService, IResourceSource
{
    private readonly ILogger _logger = loggers.CreateLogger("Chat.AppHost");
    private readonly Dictionary<string, List<ReplicaSupervisor>> _supervisors = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, List<Replica>> _replicas = new(StringComparer.OrdinalIgnoreCase);
    private readonly CancellationTokenSource _stopping = new();
    private Task _startup = Task.CompletedTask;
    private bool _prepared;
    private string? _redisConnectionString;

    public ResourceNotificationService Notifications { get; } = new();

    public IReadOnlyList<Resource> Model => model.Resources;

    public string RepositoryRoot { get; } = FindRepositoryRoot();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await PrepareAsync(cancellationToken);
        _startup = Task.Run(() => StartGraphAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>
    /// Everything that can fail because of the machine (build output, ports, Redis) happens here, before the host
    /// starts, so Run() can report it as one message.
    /// </summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (_prepared)
        {
            return;
        }

        ValidateGraph();
        var ports = AllocatePorts();
        var redisPlans = new Dictionary<Resource, RedisPlan>();
        foreach (var redis in model.Resources.OfType<RedisResource>())
        {
            var plan = await RedisServerResolver.ResolveAsync(redis, ports[(redis, 0)]["tcp"].Port, model.Settings.Redis,
                model.Settings.Configuration[$"ConnectionStrings:{redis.Name}"], RepositoryRoot, cancellationToken);
            redis.Kind = plan.Kind;
            redisPlans[redis] = plan;
            LogRedis(_logger, redis.Name, Describe(plan));
        }

        _redisConnectionString = redisPlans.Values.FirstOrDefault()?.ConnectionString;
        var topology = new Topology(ports, redisPlans);

        foreach (var resource in model.Resources)
        {
            var replicas = new List<Replica>();
            var supervisors = new List<ReplicaSupervisor>();
            for (var i = 0; i < resource.Replicas; i++)
            {
                var index = i;
                var endpoints = topology.EndpointsOf(resource, index)
                    .Select(e => new ResourceEndpoint(e.Key, e.Value.ToString().TrimEnd('/'))).ToList();
                var replica = new Replica(resource, index, endpoints, new ConsoleLog(model.Settings.ConsoleLogCapacity));
                replica.Changed += Notifications.Publish;
                replica.Changed += LogStateChange;
                if (model.Settings.ShowResourceLogs)
                {
                    var resourceLogger = loggers.CreateLogger($"Chat.AppHost.Resources.{resource.Name}");
                    var name = replica.Name;
                    replica.Log.Appended += line => LogResourceLine(resourceLogger, name, line.Text);
                }

                var env = ReplicaEnvironment.Build(resource, index, topology, model.Otlp, environment);
                replica.SetEnvironment(ReplicaEnvironment.Redact(resource, env));
                replicas.Add(replica);
                supervisors.Add(new ReplicaSupervisor(replica, topology.LaunchOf(resource), env,
                    () => topology.ProbeOf(resource, index), model.Settings, _logger));
            }

            _replicas[resource.Name] = replicas;
            _supervisors[resource.Name] = supervisors;
        }

        Notifications.Initialize(_replicas.Values.SelectMany(r => r).ToList());
        _prepared = true;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync();
        try
        {
            await _startup;
        }
        catch (OperationCanceledException)
        {
        }

        // Dependants first: the gateway, then the transports, then the LLM service, then Redis.
        foreach (var level in StopOrder())
        {
            await Task.WhenAll(level.SelectMany(resource => _supervisors.GetValueOrDefault(resource.Name) ?? []).Select(s => s.StopAsync()));
        }

        LogStopped(_logger);
    }

    public IReadOnlyList<ResourceSnapshot> GetResources() =>
        model.Resources.SelectMany(r => _replicas.GetValueOrDefault(r.Name) ?? []).Select(r => r.Snapshot()).ToList();

    public IReadOnlyList<ConsoleLogLine> GetConsoleLogs(string replicaName, int max) =>
        FindReplica(replicaName)?.Log.Tail(max) ?? [];

    public IAsyncEnumerable<ConsoleLogLine> WatchConsoleLogs(string replicaName, long afterSequence, CancellationToken cancellationToken) =>
        FindReplica(replicaName)?.Log.WatchAsync(afterSequence, cancellationToken) ?? AsyncEnumerable.Empty<ConsoleLogLine>();

    public Task<bool> ExecuteCommandAsync(string replicaName, string command, CancellationToken cancellationToken)
    {
        var parsed = command.ToLowerInvariant() switch
        {
            "start" => ReplicaCommand.Start,
            "stop" => ReplicaCommand.Stop,
            "restart" => ReplicaCommand.Restart,
            "kill" => ReplicaCommand.Kill,
            _ => (ReplicaCommand?)null,
        };
        var supervisor = FindSupervisor(replicaName);
        return Task.FromResult(parsed is not null && supervisor is not null && supervisor.Send(parsed.Value));
    }

    /// <summary>The connection string given to the projects that reference Redis.</summary>
    public string? GetConnectionString(string resourceName) =>
        model.Resources.OfType<RedisResource>().Any(r => string.Equals(r.Name, resourceName, StringComparison.OrdinalIgnoreCase))
            ? _redisConnectionString : null;

    private async Task StartGraphAsync(CancellationToken stopping)
    {
        var started = DateTimeOffset.UtcNow;
        var startups = model.Resources.Select(async resource =>
        {
            foreach (var dependency in resource.WaitsFor)
            {
                LogWaiting(_logger, resource.Name, dependency.Name);
                try
                {
                    await Notifications.WaitForResourceHealthyAsync(dependency.Name, stopping);
                }
                catch (DistributedApplicationException e)
                {
                    LogNotStarted(_logger, resource.Name, e.Message);
                    return false;
                }
            }

            foreach (var supervisor in _supervisors[resource.Name])
            {
                supervisor.Start();
            }

            return true;
        }).ToList();
        if ((await Task.WhenAll(startups)).Contains(false))
        {
            return;
        }

        try
        {
            foreach (var resource in model.Resources)
            {
                await Notifications.WaitForResourceHealthyAsync(resource.Name, stopping);
            }
        }
        catch (DistributedApplicationException)
        {
            return;
        }

        var external = model.Resources.SelectMany(r => r.Endpoints.Where(e => e.IsExternal).Select(e => (r, e)))
            .Select(pair => $"{_replicas[pair.r.Name][0].Endpoints.First(x => x.Name == pair.e.Name).Url} ({pair.r.Name} {pair.e.Name}, {(pair.e.IsHttp2 ? "HTTP/2" : "HTTP/1.1")})");
        LogReady(_logger, (DateTimeOffset.UtcNow - started).TotalSeconds, string.Join(" · ", external));
        foreach (var replica in _replicas.Values.SelectMany(r => r))
        {
            var snapshot = replica.Snapshot();
            LogReplica(_logger, replica.Name, snapshot.Type, snapshot.ProcessId, string.Join(" ", snapshot.Endpoints.Select(e => e.Url)));
        }
    }

    /// <summary>Checks that fail fast with a message saying what to do, before any process starts.</summary>
    private void ValidateGraph()
    {
        foreach (var resource in model.Resources)
        {
            if (resource is ProjectResource project && !File.Exists(project.Project.OutputAssembly()))
            {
                throw new DistributedApplicationException(
                    $"'{resource.Name}' has no build output at {project.Project.OutputAssembly()}. Build first: "
                    + $"`dotnet build Chat.AppHost -c {project.Project.Configuration}` builds every service (or use `dotnet run --project Chat.AppHost`).");
            }

            if (resource.Replicas > 1 && resource.Endpoints.Any(e => e.Port is not null) && !model.Settings.RandomizePorts)
            {
                throw new DistributedApplicationException(
                    $"'{resource.Name}' has {resource.Replicas} replicas and a fixed port: replicas each need their own port (as in Aspire, which refuses this too).");
            }

            foreach (var dependency in resource.References.Concat(resource.WaitsFor))
            {
                if (!model.Resources.Contains(dependency))
                {
                    throw new DistributedApplicationException($"'{resource.Name}' references '{dependency.Name}', which is not in this application.");
                }
            }
        }
    }

    /// <summary>Every replica's port per endpoint, fixed for the lifetime of the AppHost (a restarted replica keeps its address).</summary>
    private Dictionary<(Resource, int), Dictionary<string, IPEndPoint>> AllocatePorts()
    {
        var ports = new Dictionary<(Resource, int), Dictionary<string, IPEndPoint>>();
        var listeners = new List<TcpListener>();
        try
        {
            foreach (var resource in model.Resources)
            {
                for (var index = 0; index < resource.Replicas; index++)
                {
                    var endpoints = new Dictionary<string, IPEndPoint>();
                    foreach (var endpoint in resource.Endpoints)
                    {
                        var port = model.Settings.RandomizePorts ? 0 : endpoint.Port ?? 0;
                        var listener = new TcpListener(IPAddress.Loopback, port);
                        try
                        {
                            listener.Start();
                        }
                        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
                        {
                            throw new DistributedApplicationException(
                                $"Port {port} ({resource.Name} {endpoint.Name}) is in use: stop what is using it (`ss -ltnp 'sport = :{port}'`) or choose another port "
                                + $"(e.g. --{GatewayPortKey(endpoint.Name)}=<port>).");
                        }

                        // Held until every port is chosen, so no two endpoints get the same free port.
                        listeners.Add(listener);
                        endpoints[endpoint.Name] = (IPEndPoint)listener.LocalEndpoint;
                    }

                    ports[(resource, index)] = endpoints;
                }
            }
        }
        finally
        {
            listeners.ForEach(listener => listener.Stop());
        }

        return ports;
    }

    private static string GatewayPortKey(string endpoint) => endpoint == "http2" ? "Gateway:Http2Port" : "Gateway:HttpPort";

    private void LogStateChange(Replica replica)
    {
        var snapshot = replica.Snapshot();
        LogState(_logger, replica.Name, snapshot.State, snapshot.Health ?? "-", snapshot.RestartCount);
    }

    /// <summary>Resources grouped so that each group only depends on later groups.</summary>
    private List<List<Resource>> StopOrder()
    {
        var depth = new Dictionary<Resource, int>();
        int DepthOf(Resource resource) => depth.TryGetValue(resource, out var known) ? known
            : depth[resource] = 1 + resource.References.Concat(resource.WaitsFor).Select(DepthOf).DefaultIfEmpty(-1).Max();
        return model.Resources.GroupBy(DepthOf).OrderByDescending(g => g.Key).Select(g => g.ToList()).ToList();
    }

    private Replica? FindReplica(string name) => _replicas.Values.SelectMany(r => r).FirstOrDefault(r => r.Name == name);

    private ReplicaSupervisor? FindSupervisor(string name) => _supervisors.Values.SelectMany(s => s).FirstOrDefault(s => s.Replica.Name == name);

    private static string Describe(RedisPlan plan) => plan.Kind switch
    {
        RedisServerKind.External => "external server from ConnectionStrings (nothing started)",
        RedisServerKind.RedisServer => $"redis-server on {plan.ConnectionString}, data in {plan.DataDirectory}",
        _ => $"Garnet on {plan.ConnectionString} (no redis-server installed), data in {plan.DataDirectory}",
    };

    /// <summary>The folder holding the solution (and dotnet-tools.json): the AppHost project's parent.</summary>
    private static string FindRepositoryRoot() =>
        Path.GetDirectoryName(Path.GetDirectoryName(new Projects.Chat_AppHost().ProjectPath))!;

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis '{Name}': {Description}")]
    private static partial void LogRedis(ILogger logger, string name, string description);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Resource} waits for {Dependency} to be healthy")]
    private static partial void LogWaiting(ILogger logger, string resource, string dependency);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ready in {Seconds:0.0} s: {Endpoints}. Press Ctrl+C to stop.")]
    private static partial void LogReady(ILogger logger, double seconds, string endpoints);

    [LoggerMessage(Level = LogLevel.Information, Message = "  {Replica,-12} {Type,-10} pid {ProcessId,-7} {Endpoints}")]
    private static partial void LogReplica(ILogger logger, string replica, string type, int? processId, string endpoints);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Replica}: {State}, health {Health}, restarts {RestartCount}")]
    private static partial void LogState(ILogger logger, string replica, string state, string health, int restartCount);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Resource} will not start: {Reason}")]
    private static partial void LogNotStarted(ILogger logger, string resource, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "[{Replica}] {Line}")]
    private static partial void LogResourceLine(ILogger logger, string replica, string line);

    [LoggerMessage(Level = LogLevel.Information, Message = "Every resource stopped")]
    private static partial void LogStopped(ILogger logger);
}
