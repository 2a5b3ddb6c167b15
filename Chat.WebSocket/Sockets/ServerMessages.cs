using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chat.WebSocket.Sockets;

// The original server's messages, field for field (snake_case, every one with `type` and `timestamp`). Additions are
// fields the original did not have (reply_id, code, finish_reason…) and the cancel/resume answers; nulls are omitted.

public abstract record ServerMessage(string Type)
{
    public static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    [JsonPropertyOrder(-1)]
    public string Timestamp { get; init; } = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);

    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, GetType(), SerializerOptions);
}

public sealed record ServerInfo(string Model, string Framework, IReadOnlyList<string> Features);

public sealed record ConnectedMessage(string ConnectionId, string Message, ServerInfo ServerInfo) : ServerMessage("connected");

public sealed record PongMessage(string ConnectionId) : ServerMessage("pong");

public sealed record SessionCreatedMessage(string SessionId, string Model, string ConnectionId) : ServerMessage("session_created");

public sealed record SessionJoinedMessage(string SessionId, string Model, int MessageCount, string ConnectionId)
    : ServerMessage("session_joined");

public sealed record StatusMessage(string Message, string SessionId, int ContextMessages, string ReplyId) : ServerMessage("status");

/// <summary>
/// <c>total_length</c> was the length of the whole reply, known in advance only because the original generated it
/// before "streaming" it; with real streaming it is unknown and always 0 (the client learns the length at the end).
/// </summary>
public sealed record ResponseStartMessage(string SessionId, int TotalLength, string ReplyId) : ServerMessage("response_start")
{
    public bool? Resumed { get; init; }
}

/// <summary>A model delta as it arrives; <c>is_final</c> is false on every chunk: <c>response_complete</c> ends a reply.</summary>
public sealed record ChunkMessage(string Text, int ChunkNumber, bool IsFinal, string SessionId, string ReplyId) : ServerMessage("chunk")
{
    /// <summary>Addition: the model's emit time in Stopwatch ticks (machine-wide monotonic), for per-token lag.</summary>
    public long? EmittedAt { get; init; }
}

public sealed record ResponseCompleteMessage(
    int TotalChunks,
    double ProcessingTime,
    int MessageCount,
    string SessionId,
    string FullResponse,
    string ReplyId,
    string FinishReason,
    double TimeToFirstToken,
    int InputTokens,
    int OutputTokens) : ServerMessage("response_complete");

/// <summary>Addition: the reply was stopped by a <c>cancel</c> (from this or another connection).</summary>
public sealed record ResponseCancelledMessage(string SessionId, string ReplyId, int TotalChunks) : ServerMessage("response_cancelled");

public sealed record SessionUpdateMessage(string SessionId, string UpdateType) : ServerMessage("session_update")
{
    public string? ConnectionId { get; init; }
    public bool? Typing { get; init; }
    public int? MessageCount { get; init; }
    public string? LastMessagePreview { get; init; }
}

/// <summary>
/// <c>message</c> is the original's text ("Session not found", "Message is required", "Invalid JSON format"…);
/// <c>code</c> (addition) is the gRPC status name behind it, so clients can tell retryable failures apart.
/// </summary>
public sealed record ErrorMessage(string Message) : ServerMessage("error")
{
    public string? Code { get; init; }
    public string? SessionId { get; init; }
    public string? ReplyId { get; init; }
    public bool? Retryable { get; init; }
}
