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
    int ModelMessages)
{
    /// <summary>Listings only: the first user message, shortened (<see cref="SessionTitle"/>); null when none.</summary>
    public string? Title { get; init; }
}

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

/// <summary>One page of a session's history (oldest first), the stored total and the index of its first message.</summary>
public sealed record HistoryPage(IReadOnlyList<StoredMessage> Messages, int Total, int FirstIndex);

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

/// <summary>A session a turn creates as it begins (one round trip for both): its model and provider.</summary>
public sealed record NewSession(string Model, string Provider);
