using System.Globalization;

namespace Chat.Sse.Streaming;

/// <summary>
/// SSE event ids: <c>&lt;turnId&gt;:&lt;sequence&gt;@&lt;epoch&gt;</c> for the last frame written for a chat.llm.v1
/// TurnEvent, and <c>&lt;turnId&gt;:&lt;sequence&gt;.&lt;k&gt;@&lt;epoch&gt;</c> for its earlier frames (the accepted event
/// becomes <c>session_info</c> then <c>status</c>; the completion becomes the final chunk then <c>complete</c>). So
/// every frame has its own id, and a reconnect resumes after exactly the frame the client saw last. The sequence is
/// the event's position (the same on every transport); the epoch names the turn's resume buffer it belongs to
/// (docs/resume.md). The turn id stays everything before the last colon, as before the epoch was added.
/// <para>
/// Ids of the first form (<c>&lt;turnId&gt;:&lt;sequence&gt;[.&lt;k&gt;]</c>, or a bare sequence) still resume: their
/// position is honoured, only the epoch is not checked.
/// </para>
/// </summary>
public readonly record struct SseEventId(long AfterSequence, int SkipFrames, string? Epoch = null)
{
    public static readonly SseEventId Start = new(0, 0);

    /// <summary>Reads a Last-Event-ID; false when it is malformed or names another turn.</summary>
    public static bool TryParse(string? value, string turnId, out SseEventId id)
    {
        id = Start;
        if (string.IsNullOrWhiteSpace(value))
        {
            return true;
        }

        var text = value.Trim();
        string? epoch = null;
        var at = text.LastIndexOf('@');
        if (at >= 0)
        {
            epoch = text[(at + 1)..];
            if (epoch.Length == 0 || !epoch.All(char.IsAsciiLetterOrDigit))
            {
                return false;
            }

            text = text[..at];
        }

        var colon = text.LastIndexOf(':');
        if (colon >= 0)
        {
            if (!text.AsSpan(0, colon).SequenceEqual(turnId))
            {
                return false;
            }

            text = text[(colon + 1)..];
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var sequenceText = dot >= 0 ? text[..dot] : text;
        if (!long.TryParse(sequenceText, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
        {
            return false;
        }

        if (dot < 0)
        {
            id = new SseEventId(sequence, 0, epoch);
            return true;
        }

        if (!int.TryParse(text[(dot + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var frame) || frame < 1 || sequence < 1)
        {
            return false;
        }

        // Frame k of event n was seen: replay event n from its frame k+1.
        id = new SseEventId(sequence - 1, frame, epoch);
        return true;
    }
}
