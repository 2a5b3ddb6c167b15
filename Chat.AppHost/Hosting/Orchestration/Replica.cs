using Chat.Dashboard.Resources;

namespace Chat.Hosting.Orchestration;

/// <summary>Replica states, the ones IResourceSource documents (Aspire's KnownResourceStates, plus Restarting).</summary>
public static class ReplicaStates
{
    public const string Waiting = "Waiting";
    public const string Starting = "Starting";
    public const string Running = "Running";
    public const string Unhealthy = "Unhealthy";
    public const string Exited = "Exited";
    public const string Restarting = "Restarting";
    public const string Stopped = "Stopped";
    public const string FailedToStart = "FailedToStart";
}

/// <summary>One process of a resource ("sse-1"): its addresses, its state, its console log.</summary>
internal sealed class Replica(Resource resource, int index, IReadOnlyList<ResourceEndpoint> endpoints, ConsoleLog log)
{
    private readonly Lock _lock = new();
    private string _state = ReplicaStates.Waiting;
    private string? _health;
    private int? _processId;
    private DateTimeOffset? _startedAt;
    private int _restartCount;
    private int? _exitCode;
    private IReadOnlyDictionary<string, string> _environment = new Dictionary<string, string>();

    public Resource Resource { get; } = resource;

    public int Index { get; } = index;

    public string Name { get; } = $"{resource.Name}-{index}";

    public IReadOnlyList<ResourceEndpoint> Endpoints { get; } = endpoints;

    public ConsoleLog Log { get; } = log;

    /// <summary>Raised after every change of state or health.</summary>
    public event Action<Replica>? Changed;

    public string State
    {
        get { lock (_lock) { return _state; } }
    }

    public bool IsHealthy
    {
        get { lock (_lock) { return _health == "Healthy" && _state == ReplicaStates.Running; } }
    }

    public void SetEnvironment(IReadOnlyDictionary<string, string> environment)
    {
        lock (_lock)
        {
            _environment = environment;
        }
    }

    public void Starting(int? processId)
    {
        Update(() =>
        {
            _state = ReplicaStates.Starting;
            _health = null;
            _processId = processId;
            _startedAt = DateTimeOffset.UtcNow;
            _exitCode = null;
        });
    }

    public void Health(bool healthy)
    {
        Update(() =>
        {
            if (_state is not (ReplicaStates.Starting or ReplicaStates.Running or ReplicaStates.Unhealthy))
            {
                return;
            }

            _health = healthy ? "Healthy" : "Unhealthy";
            _state = healthy ? ReplicaStates.Running
                : _state == ReplicaStates.Starting ? ReplicaStates.Starting : ReplicaStates.Unhealthy;
        });
    }

    public void Exited(int exitCode, string state)
    {
        Update(() =>
        {
            _state = state;
            _health = null;
            _processId = null;
            _exitCode = exitCode;
        });
    }

    public void Restarting()
    {
        Update(() =>
        {
            _state = ReplicaStates.Restarting;
            _restartCount++;
        });
    }

    public void FailedToStart()
    {
        Update(() =>
        {
            _state = ReplicaStates.FailedToStart;
            _health = null;
            _processId = null;
        });
    }

    public ResourceSnapshot Snapshot()
    {
        lock (_lock)
        {
            return new ResourceSnapshot(Name, Resource.Name, Resource.Type, _state, _health, _processId, _startedAt,
                _restartCount, _exitCode, Endpoints, _environment);
        }
    }

    private void Update(Action change)
    {
        string before, after;
        string? healthBefore, healthAfter;
        lock (_lock)
        {
            (before, healthBefore) = (_state, _health);
            change();
            (after, healthAfter) = (_state, _health);
        }

        if (before != after || healthBefore != healthAfter)
        {
            Changed?.Invoke(this);
        }
    }
}
