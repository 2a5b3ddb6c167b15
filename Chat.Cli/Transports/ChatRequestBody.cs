using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chat.Cli.Transports;

/// <summary>The body of <c>POST /chat</c>, <c>/chat/stream</c> and <c>/chat/turns</c> (the original's field names).</summary>
internal sealed record ChatRequestBody(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("session_id")] string? SessionId)
{
    public static readonly JsonSerializerOptions Options = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
