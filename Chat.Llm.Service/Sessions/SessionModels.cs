using System.Text.Json.Serialization;

namespace Chat.Llm.Service.Sessions;

/// <summary>A session as stored in its Redis hash.</summary>
public sealed record SessionRecord(
    string Id,
    string Principal,
    string Model,
    string Provider,
    string SystemInstruction,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int MessageCount,
    int UserMessages,
    int ModelMessages);

/// <summary>One stored history message (a JSON element of the session's Redis list).</summary>
public sealed record StoredMessage(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("at")] long AtUnixMs,
    [property: JsonPropertyName("turn")] string TurnId)
{
    public const string UserRole = "user";
    public const string ModelRole = "model";
}

[JsonSerializable(typeof(StoredMessage))]
internal sealed partial class SessionJsonContext : JsonSerializerContext;

/// <summary>What starting a turn found: the session as it was and its whole stored history.</summary>
public sealed record TurnStart(SessionRecord Session, IReadOnlyList<StoredMessage> History);

public enum BeginTurnOutcome
{
    Started,
    SessionNotFound,
    TurnAlreadyRunning,
}

/// <summary>One page of a principal's sessions, newest first.</summary>
public sealed record SessionPage(IReadOnlyList<SessionRecord> Sessions, int Total, int? NextOffset);

/// <summary>The counters every replica shares.</summary>
public sealed record SharedStats(
    DateTimeOffset StartedAt,
    long TotalTurns,
    long SucceededTurns,
    long FailedTurns,
    double LatencySecondsTotal,
    long SessionsCreated,
    int ActiveSessions);
