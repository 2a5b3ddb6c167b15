using System.Text.Encodings.Web;
using System.Text.Json;
using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Json;

namespace Chat.Transports.Shared.Streaming;

/// <summary>
/// Writes the original project's streaming event objects (NDJSON lines, SSE data) straight into a response's buffer
/// with a reused <see cref="Utf8JsonWriter"/>: no intermediate objects or strings per token. Field names and order are
/// the original's; fields after them are additions its clients ignore.
/// </summary>
public static class OriginalEvents
{
    public const string GeneratingResponse = "Generating response...";

    /// <summary>Writer options for every stream: compact, and non-ASCII text kept readable instead of \u-escaped.</summary>
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText SessionInfo = JsonEncodedText.Encode("session_info");
    private static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText Chunk = JsonEncodedText.Encode("chunk");
    private static readonly JsonEncodedText Complete = JsonEncodedText.Encode("complete");
    private static readonly JsonEncodedText Error = JsonEncodedText.Encode("error");
    private static readonly JsonEncodedText SessionId = JsonEncodedText.Encode("session_id");
    private static readonly JsonEncodedText Model = JsonEncodedText.Encode("model");
    private static readonly JsonEncodedText Provider = JsonEncodedText.Encode("provider");
    private static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText IsNewSession = JsonEncodedText.Encode("is_new_session");
    private static readonly JsonEncodedText TurnId = JsonEncodedText.Encode("turn_id");
    private static readonly JsonEncodedText Message = JsonEncodedText.Encode("message");
    private static readonly JsonEncodedText GeneratingResponseText = JsonEncodedText.Encode(GeneratingResponse);
    private static readonly JsonEncodedText ContextMessages = JsonEncodedText.Encode("context_messages");
    private static readonly JsonEncodedText Text = JsonEncodedText.Encode("text");
    private static readonly JsonEncodedText ChunkNumber = JsonEncodedText.Encode("chunk_number");
    private static readonly JsonEncodedText IsFinal = JsonEncodedText.Encode("is_final");
    private static readonly JsonEncodedText TotalChunks = JsonEncodedText.Encode("total_chunks");
    private static readonly JsonEncodedText ProcessingTime = JsonEncodedText.Encode("processing_time");
    private static readonly JsonEncodedText MessageCount = JsonEncodedText.Encode("message_count");
    private static readonly JsonEncodedText FinishReason = JsonEncodedText.Encode("finish_reason");
    private static readonly JsonEncodedText Usage = JsonEncodedText.Encode("usage");
    private static readonly JsonEncodedText InputTokens = JsonEncodedText.Encode("input_tokens");
    private static readonly JsonEncodedText OutputTokens = JsonEncodedText.Encode("output_tokens");
    private static readonly JsonEncodedText TotalTokens = JsonEncodedText.Encode("total_tokens");
    private static readonly JsonEncodedText Timings = JsonEncodedText.Encode("timings");
    private static readonly JsonEncodedText TimeToFirstToken = JsonEncodedText.Encode("time_to_first_token");
    private static readonly JsonEncodedText ModelSeconds = JsonEncodedText.Encode("model_seconds");
    private static readonly JsonEncodedText Code = JsonEncodedText.Encode("code");
    private static readonly JsonEncodedText Retryable = JsonEncodedText.Encode("retryable");
    private static readonly JsonEncodedText EmittedAt = JsonEncodedText.Encode("emitted_at");

    /// <summary><c>{type:"session_info", session_id, model, timestamp?}</c> + is_new_session, turn_id, provider.</summary>
    public static void WriteSessionInfo(Utf8JsonWriter writer, TurnAccepted accepted, string turnId, bool withTimestamp)
    {
        writer.WriteStartObject();
        writer.WriteString(Type, SessionInfo);
        writer.WriteString(SessionId, accepted.SessionId);
        writer.WriteString(Model, accepted.Model);
        WriteTimestamp(writer, withTimestamp);
        writer.WriteBoolean(IsNewSession, accepted.SessionCreated);
        writer.WriteString(TurnId, turnId);
        writer.WriteString(Provider, accepted.Provider);
        writer.WriteEndObject();
    }

    /// <summary>
    /// <c>{type:"status", message:"Generating response...", context_messages, timestamp?}</c> + session_id.
    /// The original counted the new user message in <c>context_messages</c> (it was added to the history first);
    /// chat.llm.v1 counts only the history sent with it, hence the +1.
    /// </summary>
    public static void WriteStatus(Utf8JsonWriter writer, TurnAccepted accepted, bool withTimestamp)
    {
        writer.WriteStartObject();
        writer.WriteString(Type, Status);
        writer.WriteString(Message, GeneratingResponseText);
        writer.WriteNumber(ContextMessages, accepted.ContextMessages + 1);
        WriteTimestamp(writer, withTimestamp);
        writer.WriteString(SessionId, accepted.SessionId);
        writer.WriteEndObject();
    }

    /// <summary>
    /// <c>{type:"chunk", text, chunk_number, is_final, timestamp?}</c> + <c>emitted_at</c>: the model's emit time in
    /// Stopwatch ticks (machine-wide monotonic on Linux), so a client on the same machine measures per-token lag as
    /// receive ticks − emitted ticks (Chat.Bench). Left out when 0 (the synthetic final chunk).
    /// </summary>
    public static void WriteChunk(Utf8JsonWriter writer, string text, int chunkNumber, bool isFinal, bool withTimestamp, long emittedAtTicks = 0)
    {
        writer.WriteStartObject();
        writer.WriteString(Type, Chunk);
        writer.WriteString(Text, text);
        writer.WriteNumber(ChunkNumber, chunkNumber);
        writer.WriteBoolean(IsFinal, isFinal);
        WriteTimestamp(writer, withTimestamp);
        if (emittedAtTicks != 0)
        {
            writer.WriteNumber(EmittedAt, emittedAtTicks);
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// <c>{type:"complete", total_chunks, processing_time, message_count, session_id, timestamp?}</c> + finish_reason,
    /// usage {input_tokens, output_tokens, total_tokens}, timings {time_to_first_token, model_seconds}, turn_id.
    /// </summary>
    public static void WriteComplete(
        Utf8JsonWriter writer, TurnCompleted completed, int totalChunks, double processingSeconds, string sessionId, string turnId, bool withTimestamp)
    {
        writer.WriteStartObject();
        writer.WriteString(Type, Complete);
        writer.WriteNumber(TotalChunks, totalChunks);
        OriginalJson.WriteFloat(writer, ProcessingTime, Math.Round(processingSeconds, 3));
        writer.WriteNumber(MessageCount, completed.MessageCount);
        writer.WriteString(SessionId, sessionId);
        WriteTimestamp(writer, withTimestamp);
        writer.WriteString(FinishReason, completed.FinishReason);
        writer.WriteStartObject(Usage);
        writer.WriteNumber(InputTokens, completed.Usage?.InputTokens ?? 0);
        writer.WriteNumber(OutputTokens, completed.Usage?.OutputTokens ?? 0);
        writer.WriteNumber(TotalTokens, completed.Usage?.TotalTokens ?? 0);
        writer.WriteEndObject();
        writer.WriteStartObject(Timings);
        OriginalJson.WriteFloat(writer, TimeToFirstToken, Math.Round(completed.TimeToFirstTokenSeconds, 3));
        OriginalJson.WriteFloat(writer, ModelSeconds, Math.Round(completed.TotalSeconds, 3));
        writer.WriteEndObject();
        writer.WriteString(TurnId, turnId);
        writer.WriteEndObject();
    }

    /// <summary><c>{type:"error", message, session_id, timestamp?}</c> + code (a gRPC status name), retryable.</summary>
    public static void WriteError(Utf8JsonWriter writer, string message, string sessionId, string code, bool retryable, bool withTimestamp)
    {
        writer.WriteStartObject();
        writer.WriteString(Type, Error);
        writer.WriteString(Message, message);
        writer.WriteString(SessionId, sessionId);
        WriteTimestamp(writer, withTimestamp);
        writer.WriteString(Code, code);
        writer.WriteBoolean(Retryable, retryable);
        writer.WriteEndObject();
    }

    /// <summary>The original's <c>datetime.now().isoformat()</c> shape, in UTC (see docs/contracts.md).</summary>
    private static void WriteTimestamp(Utf8JsonWriter writer, bool withTimestamp)
    {
        if (withTimestamp)
        {
            OriginalJson.WriteTimestamp(writer, Timestamp, DateTimeOffset.UtcNow);
        }
    }
}
