namespace Chat.Cli.Transports;

/// <summary>What went wrong, in terms a user (and an exit code) can act on, whatever the protocol said.</summary>
public enum ChatErrorKind
{
    Other,
    InvalidArgument,
    NotFound,
    Conflict,
    RateLimited,
    Unavailable,
    Timeout,
    Cancelled,
    NotSupported,
}

/// <summary>A failure already turned into a readable message (ProblemDetails detail, gRPC status detail…).</summary>
public sealed class ChatTransportException(ChatErrorKind kind, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public ChatErrorKind Kind { get; } = kind;

    public static ChatTransportException FromHttpStatus(int status, string message) => new(status switch
    {
        400 or 413 or 422 => ChatErrorKind.InvalidArgument,
        404 => ChatErrorKind.NotFound,
        409 => ChatErrorKind.Conflict,
        429 => ChatErrorKind.RateLimited,
        502 or 503 => ChatErrorKind.Unavailable,
        504 => ChatErrorKind.Timeout,
        _ => ChatErrorKind.Other,
    }, message);

    public static ChatTransportException Unreachable(string endpoint, Exception inner) =>
        new(ChatErrorKind.Unavailable, $"Cannot reach {endpoint}: {inner.Message}", inner);
}
