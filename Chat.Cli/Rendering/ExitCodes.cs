using Chat.Cli.Transports;

namespace Chat.Cli.Rendering;

/// <summary>Process exit codes of <c>chat</c> (documented in docs/cli.md).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int NotFound = 3;
    public const int Unavailable = 4;
    public const int Cancelled = 130;

    public static int For(ChatErrorKind kind) => kind switch
    {
        ChatErrorKind.InvalidArgument => Usage,
        ChatErrorKind.NotFound => NotFound,
        ChatErrorKind.Unavailable => Unavailable,
        ChatErrorKind.Cancelled => Cancelled,
        _ => Failure,
    };
}
