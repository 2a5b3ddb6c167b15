using System.Globalization;
using System.Text.Json;

namespace Chat.Cli.Transports;

/// <summary>Lenient readers for the servers' JSON: a missing or differently typed field is null, not an exception.</summary>
internal static class Json
{
    public static string? String(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Null or JsonValueKind.Undefined => null,
                _ => value.GetRawText(),
            }
            : null;

    public static JsonElement Child(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : default;

    public static int? Int(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.Number when value.TryGetInt32(out var number) => number,
                JsonValueKind.Number => (int)value.GetDouble(),
                JsonValueKind.String when int.TryParse(value.GetString(), CultureInfo.InvariantCulture, out var parsed) => parsed,
                _ => null,
            }
            : null;

    public static double? Double(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.Number => value.GetDouble(),
                JsonValueKind.String when double.TryParse(value.GetString(), CultureInfo.InvariantCulture, out var parsed) => parsed,
                _ => null,
            }
            : null;

    public static bool? Bool(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => null,
            }
            : null;

    /// <summary>An object's fields as display strings, in the server's order (nested values as compact JSON).</summary>
    public static ServerReport ToReport(this JsonElement element) => new(element.ValueKind == JsonValueKind.Object
        ? [.. element.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, Display(p.Value)))]
        : [KeyValuePair.Create("value", Display(element))]);

    private static string Display(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString() ?? "",
        JsonValueKind.Null => "",
        _ => value.GetRawText(),
    };

    /// <summary>Maps one event object of the NDJSON / SSE / WebSocket streams (same field names in all three).</summary>
    public static ChatEvent? ToChatEvent(this JsonElement message, string? type = null)
    {
        type ??= message.String("type");
        return type switch
        {
            "session_info" or "session_created" or "session" => new SessionEvent(
                message.String("session_id") ?? "", message.String("model"), message.Bool("is_new_session") ?? type == "session_created"),
            "status" => new StatusEvent(message.String("message") ?? "", message.Int("context_messages")),
            "response_start" or "start" => new ReplyStartedEvent(message.String("reply_id") ?? message.String("turn_id")),
            // A new session of a streamed turn: NDJSON/SSE session_info and WebSocket session_created.
            "chunk" => new ChunkEvent(message.String("text") ?? "", message.Int("chunk_number") ?? 0),
            "complete" or "response_complete" => new CompletedEvent(
                message.Int("total_chunks") ?? 0,
                message.Double("processing_time"),
                message.Int("message_count"),
                message.Int("input_tokens"),
                message.Int("output_tokens"),
                message.String("finish_reason"),
                message.String("full_response")),
            "error" => ToErrorEvent(message),
            // Our WebSocket server's answer to a cancel (this or another connection of the session).
            "response_cancelled" => new ErrorEvent("The reply was cancelled.", ChatErrorKind.Cancelled, "CANCELLED"),
            _ => null,
        };
    }

    private static ErrorEvent ToErrorEvent(JsonElement message)
    {
        var text = message.String("message") ?? message.String("detail") ?? "The server reported an error.";
        var code = message.String("code") ?? message.String("error_code");
        return new ErrorEvent(text, KindOf(code, text), code);
    }

    /// <summary>The original servers send no code, only "Session not found"; our servers add the status name.</summary>
    public static ChatErrorKind KindOf(string? code, string? message)
    {
        var kind = KindOfCode(code);
        return kind == ChatErrorKind.Other && message?.Contains("not found", StringComparison.OrdinalIgnoreCase) == true
            ? ChatErrorKind.NotFound
            : kind;
    }

    /// <summary>Error codes in error events are the gRPC status names of the internal API (conventions.md).</summary>
    public static ChatErrorKind KindOfCode(string? code) => code?.ToUpperInvariant() switch
    {
        "INVALID_ARGUMENT" => ChatErrorKind.InvalidArgument,
        "NOT_FOUND" => ChatErrorKind.NotFound,
        "ABORTED" or "ALREADY_EXISTS" => ChatErrorKind.Conflict,
        "RESOURCE_EXHAUSTED" => ChatErrorKind.RateLimited,
        "UNAVAILABLE" => ChatErrorKind.Unavailable,
        "DEADLINE_EXCEEDED" => ChatErrorKind.Timeout,
        "CANCELLED" => ChatErrorKind.Cancelled,
        _ => ChatErrorKind.Other,
    };
}
