using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Chat.Dashboard.Resources;

namespace Chat.Tests.Dashboard;

/// <summary>
/// Test data for the dashboard's resource pages: a fixed set of replicas and their console lines. The AppHost
/// implements IResourceSource over real processes; this one records the commands it is asked to run.
/// </summary>
public sealed class InMemoryResourceSource : IResourceSource
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<ConsoleLogLine>> _console = new();
    private readonly List<(string Replica, Channel<ConsoleLogLine> Lines)> _watchers = [];
    private readonly List<ResourceSnapshot> _resources;
    private long _sequence;

    public InMemoryResourceSource()
    {
        var started = DateTimeOffset.UtcNow.AddMinutes(-7);
        _resources =
        [
            Replica("redis-0", "redis", "Executable", "Running", "Healthy", 4101, started, 0, "tcp://127.0.0.1:6390"),
            Replica("llm-0", "llm", "Project", "Running", "Healthy", 4102, started, 0, "http://127.0.0.1:5101"),
            Replica("sse-0", "sse", "Project", "Running", "Healthy", 4103, started, 1, "http://127.0.0.1:5201"),
            Replica("sse-1", "sse", "Project", "Running", "Unhealthy", 4104, started.AddMinutes(5), 0, "http://127.0.0.1:5202"),
            Replica("websocket-0", "websocket", "Project", "Starting", null, 4105, DateTimeOffset.UtcNow, 0, "http://127.0.0.1:5301"),
            Replica("gateway-0", "gateway", "Project", "Exited", null, null, null, 3, "http://127.0.0.1:8000") with { ExitCode = 134 },
        ];
        foreach (var resource in _resources)
        {
            _console[resource.Name] = [];
        }
    }

    public List<(string Replica, string Command)> Commands { get; } = [];

    public void WriteConsole(string replica, string text, bool isError = false)
    {
        lock (_gate)
        {
            var line = new ConsoleLogLine(++_sequence, DateTimeOffset.UtcNow, text, isError);
            _console[replica].Add(line);
            foreach (var watcher in _watchers.Where(w => w.Replica == replica))
            {
                watcher.Lines.Writer.TryWrite(line);
            }
        }
    }

    public IReadOnlyList<ResourceSnapshot> GetResources()
    {
        lock (_gate)
        {
            return [.. _resources];
        }
    }

    public IReadOnlyList<ConsoleLogLine> GetConsoleLogs(string replicaName, int max)
    {
        lock (_gate)
        {
            var lines = _console.GetValueOrDefault(replicaName) ?? [];
            return [.. lines.Skip(Math.Max(0, lines.Count - max))];
        }
    }

    public async IAsyncEnumerable<ConsoleLogLine> WatchConsoleLogs(string replicaName, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<ConsoleLogLine>();
        List<ConsoleLogLine> backlog;
        lock (_gate)
        {
            backlog = [.. (_console.GetValueOrDefault(replicaName) ?? []).Where(l => l.Sequence > afterSequence)];
            _watchers.Add((replicaName, channel));
        }

        try
        {
            foreach (var line in backlog)
            {
                yield return line;
            }

            await foreach (var line in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return line;
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove((replicaName, channel));
            }
        }
    }

    public Task<bool> ExecuteCommandAsync(string replicaName, string command, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var index = _resources.FindIndex(r => r.Name == replicaName);
            if (index < 0)
            {
                return Task.FromResult(false);
            }

            Commands.Add((replicaName, command));
            var resource = _resources[index];
            _resources[index] = command switch
            {
                "stop" => resource with { State = "Stopped", ProcessId = null, Health = null },
                "restart" => resource with { State = "Running", RestartCount = resource.RestartCount + 1, StartedAt = DateTimeOffset.UtcNow },
                _ => resource with { State = "Running", StartedAt = DateTimeOffset.UtcNow },
            };
            return Task.FromResult(true);
        }
    }

    private static ResourceSnapshot Replica(string name, string resource, string type, string state, string? health, int? pid, DateTimeOffset? started, int restarts, string url) =>
        new(name, resource, type, state, health, pid, started, restarts, null,
            [new ResourceEndpoint("http", url)],
            new Dictionary<string, string>
            {
                ["OTEL_SERVICE_NAME"] = resource,
                ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={name}",
                ["ASPNETCORE_URLS"] = url,
            });
}
