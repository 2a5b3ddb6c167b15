using System.Text.Json.Serialization;

namespace Chat.Transports.Shared.Models;

// The original project's JSON bodies, field for field (snake_case through the shared JSON options); anything past
// the original's fields is an addition its clients ignore.

/// <summary>Body of <c>POST /sessions/new</c>; the whole body is optional.</summary>
public sealed record NewSessionRequest(string? ModelId = null, string? SystemInstruction = null);

public sealed record NewSessionResponse(string SessionId, string Model, DateTimeOffset Timestamp)
{
    public string? Provider { get; init; }
}

public sealed record SessionInfoResponse(
    string SessionId,
    string Model,
    int MessageCount,
    double SessionDurationSeconds,
    int UserMessages,
    int ModelMessages,
    DateTimeOffset CreatedAt)
{
    public DateTimeOffset? LastActivity { get; init; }

    public string? Provider { get; init; }
}

public sealed record SessionSummary(
    string SessionId,
    string Model,
    int MessageCount,
    double DurationMinutes,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastActivity)
{
    /// <summary>Addition: the first user message, on one line and shortened; null while the session has none.</summary>
    public string? Title { get; init; }
}

public sealed record SessionListResponse(int ActiveSessions, IReadOnlyList<SessionSummary> Sessions)
{
    /// <summary>Addition: the LLM service pages the list; pass it back as <c>?page_token=</c> for the next page.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? NextPageToken { get; init; }
}

/// <summary>The original's <c>{"message": "Session &lt;id&gt; deleted successfully"}</c>.</summary>
public sealed record MessageResponse(string Message);

/// <summary>
/// Addition: <c>GET /sessions/{id}/history</c>, one page of the conversation, oldest first. <c>index</c> is the
/// message's position in the whole history (0 = the first message); pass <c>next_before</c> back as <c>?before=</c>
/// for the page before this one (null when this page starts at the beginning).
/// </summary>
public sealed record SessionHistoryResponse(string SessionId, int Total, IReadOnlyList<HistoryEntry> Messages, bool HasMore, int? NextBefore);

/// <summary>One stored message: <c>role</c> is <c>user</c> or <c>model</c> (the roles the model was given).</summary>
public sealed record HistoryEntry(int Index, string Role, string Text, DateTimeOffset Timestamp, string? TurnId);
