using Chat.Cli.Transports;

namespace Chat.Cli.Rendering;

/// <summary>What one reply came to, with the client-side measurements shown after it.</summary>
public sealed record ReplyOutcome(
    string Transport,
    string? SessionId,
    string Text,
    TimeSpan? TimeToFirstToken,
    TimeSpan TotalTime,
    int Chunks,
    CompletedEvent? Completed,
    ErrorEvent? Error,
    bool Cancelled)
{
    public bool Succeeded => Completed is not null && Error is null && !Cancelled;

    /// <summary>Output tokens as the model counted them when the server says, else the chunks received.</summary>
    public int Tokens => Completed?.OutputTokens ?? Chunks;
}
