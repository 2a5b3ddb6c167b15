namespace Chat.Cli.Transports;

/// <summary>One event of a reply, normalized across the five wire protocols.</summary>
public abstract record ChatEvent(string Type);

/// <summary>The server named (or created) the session the turn runs on.</summary>
public sealed record SessionEvent(string SessionId, string? Model, bool IsNew) : ChatEvent("session");

/// <summary>
/// The session the client named was not found and the server started a new one instead (the original's
/// get-or-create, reported by <c>is_new_session</c>): raised by the client, not sent by any server.
/// </summary>
public sealed record SessionReplacedEvent(string RequestedSessionId, string SessionId) : ChatEvent("session_replaced")
{
    public string Message => $"session {RequestedSessionId} not found; started a new one ({SessionId})";
}

/// <summary>The server accepted the turn ("Generating response...").</summary>
public sealed record StatusEvent(string Message, int? ContextMessages) : ChatEvent("status");

/// <summary>The reply started; <paramref name="ReplyId"/> is what a resume names, when the transport has one.</summary>
public sealed record ReplyStartedEvent(string? ReplyId) : ChatEvent("start");

public sealed record ChunkEvent(string Text, int Number) : ChatEvent("chunk");

public sealed record CompletedEvent(
    int TotalChunks,
    double? ProcessingTimeSeconds,
    int? MessageCount,
    int? InputTokens,
    int? OutputTokens,
    string? FinishReason,
    string? FullResponse) : ChatEvent("complete");

/// <summary>The connection dropped mid-reply and the transport is resuming it from the last chunk it has.</summary>
public sealed record ResumingEvent(string ReplyId, int LastChunkNumber, int Attempt) : ChatEvent("resuming");

public sealed record ErrorEvent(string Message, ChatErrorKind Kind, string? Code) : ChatEvent("error");

/// <summary>
/// Where a reply can be picked up again: the reply id and the last chunk the client has (and, for SSE, the last
/// event id, which the server numbers on its own).
/// </summary>
public sealed record ResumePoint(string? SessionId, string ReplyId, int LastChunkNumber, string? LastEventId = null);

public sealed record CreatedSession(string SessionId, string? Model);

public sealed record SessionDetails(
    string SessionId,
    string? Model,
    int MessageCount,
    int? UserMessages,
    int? ModelMessages,
    double? DurationSeconds,
    string? CreatedAt);

public sealed record SessionSummary(string SessionId, string? Model, int MessageCount, double? DurationMinutes, string? CreatedAt);

public sealed record SessionList(int ActiveSessions, IReadOnlyList<SessionSummary> Sessions);

/// <summary>Server health or statistics: the fields as the server named them, in the server's order.</summary>
public sealed record ServerReport(IReadOnlyList<KeyValuePair<string, string>> Fields)
{
    public string? this[string name] => Fields.FirstOrDefault(f => f.Key == name).Value;
}
