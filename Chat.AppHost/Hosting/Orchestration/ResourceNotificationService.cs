using Chat.Dashboard.Resources;

namespace Chat.Hosting.Orchestration;

/// <summary>
/// Waits on resource states, as Aspire's ResourceNotificationService. A resource is healthy when every replica is
/// Running and Healthy. Waits fail, instead of hanging, when a replica cannot be started (aspire#13714).
/// </summary>
public sealed class ResourceNotificationService
{
    private readonly Lock _lock = new();
    private IReadOnlyList<Replica> _replicas = [];
    private TaskCompletionSource _changed = NewSignal();

    internal void Initialize(IReadOnlyList<Replica> replicas) => _replicas = replicas;

    internal void Publish(Replica replica)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            changed = _changed;
            _changed = NewSignal();
        }

        changed.TrySetResult();
    }

    /// <summary>Every replica of <paramref name="name"/> (a resource, or one replica such as "sse-1") is running and healthy.</summary>
    public Task WaitForResourceHealthyAsync(string name, CancellationToken cancellationToken = default) =>
        WaitForResourceAsync(name, replicas => replicas.All(r => r is { State: ReplicaStates.Running, Health: "Healthy" }), cancellationToken);

    /// <summary>Waits until <paramref name="predicate"/> holds for the replicas of <paramref name="name"/>.</summary>
    public async Task WaitForResourceAsync(string name, Func<IReadOnlyList<ResourceSnapshot>, bool> predicate, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                changed = _changed.Task;
            }

            var replicas = _replicas.Where(r => r.Resource.Name == name || r.Name == name).Select(r => r.Snapshot()).ToList();
            if (replicas.Count == 0)
            {
                throw new ArgumentException($"No resource or replica named '{name}'. Resources: {string.Join(", ", _replicas.Select(r => r.Resource.Name).Distinct())}.", nameof(name));
            }

            if (predicate(replicas))
            {
                return;
            }

            if (replicas.FirstOrDefault(r => r.State == ReplicaStates.FailedToStart) is { } failed)
            {
                throw new DistributedApplicationException($"{failed.Name} failed to start: see its console log.");
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    public IReadOnlyList<ResourceSnapshot> GetSnapshots(string name) =>
        _replicas.Where(r => r.Resource.Name == name || r.Name == name).Select(r => r.Snapshot()).ToList();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
