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
    DateTimeOffset LastActivity);

public sealed record SessionListResponse(int ActiveSessions, IReadOnlyList<SessionSummary> Sessions)
{
    /// <summary>Addition: the LLM service pages the list; pass it back as <c>?page_token=</c> for the next page.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? NextPageToken { get; init; }
}

/// <summary>The original's <c>{"message": "Session &lt;id&gt; deleted successfully"}</c>.</summary>
public sealed record MessageResponse(string Message);
