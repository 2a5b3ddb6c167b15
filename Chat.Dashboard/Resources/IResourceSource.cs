namespace Chat.Dashboard.Resources;

/// <summary>
/// What the orchestrator (Chat.AppHost) tells the dashboard about the resources it runs, in the spirit of Aspire's
/// DashboardService (WatchResources, WatchResourceConsoleLogs, ExecuteResourceCommand). Implemented by Chat.AppHost.
/// </summary>
public interface IResourceSource
{
    /// <summary>Every resource replica as it is now.</summary>
    IReadOnlyList<ResourceSnapshot> GetResources();

    /// <summary>The last console lines of one replica (stdout and stderr), oldest first; at most <paramref name="max"/>.</summary>
    IReadOnlyList<ConsoleLogLine> GetConsoleLogs(string replicaName, int max);

    /// <summary>Lines written after <paramref name="afterSequence"/>, live, until cancelled.</summary>
    IAsyncEnumerable<ConsoleLogLine> WatchConsoleLogs(string replicaName, long afterSequence, CancellationToken cancellationToken);

    /// <summary>Runs "restart", "stop" or "start" on one replica. False when the replica or command is unknown.</summary>
    Task<bool> ExecuteCommandAsync(string replicaName, string command, CancellationToken cancellationToken);
}

/// <param name="Name">Replica name, unique: "sse-0", "sse-1", "redis-0".</param>
/// <param name="Resource">Resource name shared by replicas: "sse".</param>
/// <param name="Type">"Project", "Executable" (redis-server, garnet) or "External".</param>
/// <param name="State">"Waiting", "Starting", "Running", "Unhealthy", "Exited", "Restarting", "Stopped", "FailedToStart".</param>
/// <param name="Health">"Healthy", "Unhealthy" or null before the first check.</param>
public sealed record ResourceSnapshot(
    string Name,
    string Resource,
    string Type,
    string State,
    string? Health,
    int? ProcessId,
    DateTimeOffset? StartedAt,
    int RestartCount,
    int? ExitCode,
    IReadOnlyList<ResourceEndpoint> Endpoints,
    IReadOnlyDictionary<string, string> Environment);

public sealed record ResourceEndpoint(string Name, string Url);

public sealed record ConsoleLogLine(long Sequence, DateTimeOffset Timestamp, string Text, bool IsError);
