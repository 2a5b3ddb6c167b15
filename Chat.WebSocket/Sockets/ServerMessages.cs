using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Chat.Contracts.Formats;
using Chat.Transports.Shared.Json;

namespace Chat.WebSocket.Sockets;

// The original server's messages, field for field (snake_case, every one with `type` and `timestamp`). Additions are
// fields the original did not have (reply_id, code, finish_reason…) and the cancel/resume answers; nulls are omitted.

public abstract record ServerMessage(string Type)
{
    public static readonly JsonSerializerOptions SerializerOptions = OriginalJson.Configure(new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    });

    /// <summary>The original's <c>datetime.now().isoformat()</c> shape, in UTC: <c>2026-11-25T15:30:00.123456+00:00</c>.</summary>
    [JsonPropertyOrder(-1)]
    public string Timestamp { get; init; } = OriginalFormat.Timestamp(DateTimeOffset.UtcNow);

    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, GetType(), SerializerOptions);
}

public sealed record ServerInfo(string Model, string Framework, IReadOnlyList<string> Features);

public sealed record ConnectedMessage(string ConnectionId, string Message, ServerInfo ServerInfo) : ServerMessage("connected");

public sealed record PongMessage(string ConnectionId) : ServerMessage("pong");

public sealed record SessionCreatedMessage(string SessionId, string Model, string ConnectionId) : ServerMessage("session_created");

public sealed record SessionJoinedMessage(string SessionId, string Model, int MessageCount, string ConnectionId)
    : ServerMessage("session_joined");

public sealed record StatusMessage(string Message, string SessionId, int ContextMessages, string ReplyId) : ServerMessage("status")
{
    /// <summary>Addition: the event's position in the reply (docs/resume.md), what a <c>resume</c> names as <c>last_position</c>.</summary>
    public long? Position { get; init; }
}

/// <summary>
/// <c>total_length</c> was the length of the whole reply, known in advance only because the original generated it
/// before "streaming" it; with real streaming it is unknown and always 0 (the client learns the length at the end).
/// </summary>
public sealed record ResponseStartMessage(string SessionId, int TotalLength, string ReplyId) : ServerMessage("response_start")
{
    public bool? Resumed { get; init; }

    /// <summary>Addition, on the answer to a <c>resume</c>: whether every event after the client's position follows.</summary>
    public bool? Recovered { get; init; }

    /// <summary>Addition, with <c>recovered: false</c>: <c>trimmed</c> or <c>epoch_changed</c>.</summary>
    public string? Reason { get; init; }

    /// <summary>Addition: the reply's resume buffer; positions mean something in this epoch only.</summary>
    public string? Epoch { get; init; }
}

/// <summary>A model delta as it arrives; <c>is_final</c> is false on every chunk: <c>response_complete</c> ends a reply.</summary>
public sealed record ChunkMessage(string Text, int ChunkNumber, bool IsFinal, string SessionId, string ReplyId) : ServerMessage("chunk")
{
    /// <summary>Addition: the model's emit time in Stopwatch ticks (machine-wide monotonic), for per-token lag.</summary>
    public long? EmittedAt { get; init; }

    /// <summary>Addition: the event's position in the reply (chunk n is at n + 1).</summary>
    public long? Position { get; init; }
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
    int OutputTokens) : ServerMessage("response_complete")
{
    public long? Position { get; init; }
}

/// <summary>Addition: the reply was stopped by a <c>cancel</c> (from this or another connection).</summary>
public sealed record ResponseCancelledMessage(string SessionId, string ReplyId, int TotalChunks) : ServerMessage("response_cancelled")
{
    public long? Position { get; init; }
}

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

    /// <summary>Addition, on a reply's error: its position.</summary>
    public long? Position { get; init; }

    /// <summary>Addition, answering a <c>resume</c> of a reply whose buffer is gone: false, with <c>reason: "expired"</c>.</summary>
    public bool? Recovered { get; init; }

    public string? Reason { get; init; }
}

/// <summary>A frame queued for the connection's writer; pooled buffers go back to the pool once sent.</summary>
public readonly record struct OutgoingFrame(byte[] Buffer, int Length, bool Pooled)
{
    public void Release()
    {
        if (Pooled)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
        }
    }
}

/// <summary>
/// The <c>chunk</c> message written field by field, as <see cref="ChunkMessage"/> serializes (same names, same
/// escaping), without the record, the timestamp string or a new array per token.
/// </summary>
public static class ChunkFrame
{
    private static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText Chunk = JsonEncodedText.Encode("chunk");
    private static readonly JsonEncodedText Text = JsonEncodedText.Encode("text");
    private static readonly JsonEncodedText ChunkNumber = JsonEncodedText.Encode("chunk_number");
    private static readonly JsonEncodedText IsFinal = JsonEncodedText.Encode("is_final");
    private static readonly JsonEncodedText SessionId = JsonEncodedText.Encode("session_id");
    private static readonly JsonEncodedText ReplyId = JsonEncodedText.Encode("reply_id");
    private static readonly JsonEncodedText EmittedAt = JsonEncodedText.Encode("emitted_at");
    private static readonly JsonEncodedText Position = JsonEncodedText.Encode("position");

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static void Write(Utf8JsonWriter writer, string text, int chunkNumber, string sessionId, string? replyId, long emittedAtTicks, long position = 0)
    {
        Span<char> timestamp = stackalloc char[OriginalFormat.TimestampLength];
        OriginalFormat.TryFormatTimestamp(DateTimeOffset.UtcNow, timestamp, out var length);
        writer.WriteStartObject();
        writer.WriteString(Timestamp, timestamp[..length]);
        writer.WriteString(Type, Chunk);
        writer.WriteString(Text, text);
        writer.WriteNumber(ChunkNumber, chunkNumber);
        writer.WriteBoolean(IsFinal, false);
        writer.WriteString(SessionId, sessionId);
        if (replyId is not null)
        {
            writer.WriteString(ReplyId, replyId);
        }

        if (emittedAtTicks != 0)
        {
            writer.WriteNumber(EmittedAt, emittedAtTicks);
        }

        if (position != 0)
        {
            writer.WriteNumber(Position, position);
        }

        writer.WriteEndObject();
        writer.Flush();
    }

    /// <summary>The frame in a buffer rented from the shared pool (the caller queues it; the writer returns it).</summary>
    public static OutgoingFrame Rent(string text, int chunkNumber, string sessionId, string? replyId, long emittedAtTicks, long position = 0)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = ServerMessage.SerializerOptions.Encoder, SkipValidation = true });
        writer.Reset(buffer);
        Write(writer, text, chunkNumber, sessionId, replyId, emittedAtTicks, position);
        var frame = ArrayPool<byte>.Shared.Rent(buffer.WrittenCount);
        buffer.WrittenSpan.CopyTo(frame);
        return new OutgoingFrame(frame, buffer.WrittenCount, Pooled: true);
    }
}
