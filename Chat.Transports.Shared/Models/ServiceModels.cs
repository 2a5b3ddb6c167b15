using System.Text.Json.Serialization;

namespace Chat.Transports.Shared.Models;

/// <summary>
/// <c>GET /health</c>: the original's fields. Counters come from Chat.Llm.Service (shared by every transport and replica);
/// the connection counter is this replica's.
/// </summary>
public sealed record HealthResponse(
    string Status,
    string Model,
    long UptimeSeconds,
    long TotalRequests,
    long SuccessfulRequests,
    long FailedRequests,
    int ActiveSessions)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? StreamingConnections { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? WebsocketConnections { get; init; }

    /// <summary>Addition: "reachable" or "unreachable" (the transport stays ready; chat calls then answer 503).</summary>
    public required string LlmService { get; init; }

    /// <summary>Addition: which replica answered ("sse/sse-1").</summary>
    public required string Instance { get; init; }
}

/// <summary><c>GET /stats</c>: the original's fields plus the provider and the replicas involved.</summary>
public sealed record StatsResponse(
    long UptimeSeconds,
    long TotalRequests,
    long SuccessfulRequests,
    long FailedRequests,
    double AverageResponseTime,
    string Model,
    DateTimeOffset StartTime,
    int ActiveSessions,
    long TotalSessionsCreated)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? StreamingConnections { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? WebsocketConnections { get; init; }

    /// <summary>Addition: connections this replica has accepted since it started (streaming transports).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? TotalConnections { get; init; }

    /// <summary>Addition: streams this replica dropped since it started, e.g. clients that stopped reading (streaming transports).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? StreamsDropped { get; init; }

    public string? Provider { get; init; }

    public required string Instance { get; init; }

    public string? LlmInstance { get; init; }
}

/// <summary><c>GET /</c>: what the service is and its routes.</summary>
public sealed record ServiceInfoResponse(
    string Name,
    string Version,
    string Framework,
    string Model,
    IReadOnlyList<string> Features,
    IReadOnlyDictionary<string, string> Endpoints)
{
    public required string Instance { get; init; }
}
