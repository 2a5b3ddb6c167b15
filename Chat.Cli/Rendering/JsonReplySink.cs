using System.Text.Json;
using System.Text.Json.Serialization;
using Chat.Cli.Transports;

namespace Chat.Cli.Rendering;

/// <summary>
/// <c>chat send --json</c>: one normalized event object per line (NDJSON), the same shape whatever the protocol,
/// ending with a <c>summary</c> line holding the client's measurements.
/// </summary>
public sealed class JsonReplySink(TextWriter output) : IReplySink
{
    private bool _errorWritten;

    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public Task WaitForFirstTokenAsync(Task firstEvent, Func<string> status) => firstEvent;

    public void OnEvent(ChatEvent chatEvent) => Write(ToJson(chatEvent));

    public void OnFinished(ReplyOutcome outcome)
    {
        if (outcome.Cancelled)
        {
            Write(new Dictionary<string, object?> { ["type"] = "cancelled" });
        }
        else if (outcome.Error is { } error && !_errorWritten)
        {
            Write(ToJson(error));
        }

        Write(new Dictionary<string, object?>
        {
            ["type"] = "summary",
            ["transport"] = outcome.Transport,
            ["session_id"] = outcome.SessionId,
            ["success"] = outcome.Succeeded,
            ["time_to_first_token"] = outcome.TimeToFirstToken?.TotalSeconds,
            ["total_time"] = outcome.TotalTime.TotalSeconds,
            ["tokens"] = outcome.Tokens,
            ["chunks"] = outcome.Chunks,
        });
    }

    private Dictionary<string, object?> ToJson(ChatEvent chatEvent)
    {
        _errorWritten |= chatEvent is ErrorEvent;
        return chatEvent switch
        {
            SessionEvent e => new() { ["type"] = e.Type, ["session_id"] = e.SessionId, ["model"] = e.Model, ["is_new"] = e.IsNew },
            SessionReplacedEvent e => new()
            {
                ["type"] = e.Type, ["requested_session_id"] = e.RequestedSessionId, ["session_id"] = e.SessionId, ["message"] = e.Message,
            },
            StatusEvent e => new() { ["type"] = e.Type, ["message"] = e.Message, ["context_messages"] = e.ContextMessages },
            ReplyStartedEvent e => new() { ["type"] = e.Type, ["reply_id"] = e.ReplyId },
            ChunkEvent e => new() { ["type"] = e.Type, ["text"] = e.Text, ["chunk_number"] = e.Number },
            CompletedEvent e => new()
            {
                ["type"] = e.Type,
                ["total_chunks"] = e.TotalChunks,
                ["processing_time"] = e.ProcessingTimeSeconds,
                ["message_count"] = e.MessageCount,
                ["input_tokens"] = e.InputTokens,
                ["output_tokens"] = e.OutputTokens,
                ["finish_reason"] = e.FinishReason,
            },
            ResumingEvent e => new() { ["type"] = e.Type, ["reply_id"] = e.ReplyId, ["last_chunk_number"] = e.LastChunkNumber, ["attempt"] = e.Attempt },
            ErrorEvent e => new() { ["type"] = e.Type, ["message"] = e.Message, ["kind"] = e.Kind, ["code"] = e.Code },
            _ => new() { ["type"] = chatEvent.Type },
        };
    }

    private void Write(Dictionary<string, object?> line)
    {
        foreach (var key in line.Where(p => p.Value is null).Select(p => p.Key).ToList())
        {
            line.Remove(key);
        }

        output.WriteLine(JsonSerializer.Serialize(line, Options));
        output.Flush();
    }
}
