using Microsoft.Extensions.Configuration;

namespace Chat.Hosting.Orchestration;

/// <summary>The declared graph, frozen at Build().</summary>
internal sealed record ApplicationModel(IReadOnlyList<Resource> Resources, OtlpExporterSettings Otlp, OrchestratorSettings Settings);

/// <summary>How the orchestrator behaves (section AppHost in configuration), read once at Build().</summary>
internal sealed class OrchestratorSettings
{
    public OrchestratorSettings(IConfiguration configuration, DistributedApplicationOptions options)
    {
        var section = configuration.GetSection("AppHost");
        RandomizePorts = options.RandomizePorts || section.GetValue("RandomizePorts", false);
        RestartDelay = TimeSpan.FromMilliseconds(section.GetValue("RestartDelayMs", 1000));
        MaxRestartDelay = TimeSpan.FromMilliseconds(section.GetValue("MaxRestartDelayMs", 30_000));
        StopTimeout = TimeSpan.FromMilliseconds(section.GetValue("StopTimeoutMs", 10_000));
        HealthyProbeInterval = TimeSpan.FromMilliseconds(section.GetValue("HealthCheckIntervalMs", 5_000));
        ConsoleLogCapacity = section.GetValue("ConsoleLogCapacity", 10_000);
        ShowResourceLogs = section.GetValue("ShowResourceLogs", false);
        Redis = new RedisSettings(
            configuration["Redis:Server"] is { Length: > 0 } server ? server : "auto",
            configuration["Redis:DataDirectory"] is { Length: > 0 } data ? data : null);
        Configuration = configuration;
    }

    public IConfiguration Configuration { get; }

    public bool RandomizePorts { get; }

    /// <summary>First delay before restarting a crashed replica; doubles per consecutive crash up to MaxRestartDelay.</summary>
    public TimeSpan RestartDelay { get; }

    public TimeSpan MaxRestartDelay { get; }

    /// <summary>How long a replica has to exit after SIGTERM before it is killed.</summary>
    public TimeSpan StopTimeout { get; }

    public TimeSpan HealthyProbeInterval { get; }

    public int ConsoleLogCapacity { get; }

    /// <summary>Echo every replica's console output to the AppHost's console, prefixed by the replica name.</summary>
    public bool ShowResourceLogs { get; }

    public RedisSettings Redis { get; }
}

/// <param name="Server">"auto" (redis-server when installed, else Garnet), "redis-server" or "garnet".</param>
/// <param name="DataDirectory">Where the local server persists; default .data/redis (or .data/garnet) under the repository.</param>
internal sealed record RedisSettings(string Server, string? DataDirectory);
