namespace Chat.Cli.Transports;

/// <summary>
/// How hard a resumable transport tries to get a dropped reply back: <see cref="MaxAttempts"/> reconnections
/// (0: never, the reply ends with an error and <c>/resume</c> is left), waiting 250 ms, 500 ms, 1 s, then 2 s each.
/// The default (8, about 12 s) outlasts a gateway or transport replica restart.
/// </summary>
public sealed record ReconnectPolicy(int MaxAttempts = ReconnectPolicy.DefaultAttempts)
{
    public const int DefaultAttempts = 8;

    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);

    public static ReconnectPolicy Default { get; } = new();

    public TimeSpan DelayBefore(int attempt) =>
        TimeSpan.FromTicks(Math.Min(MaxDelay.Ticks, FirstDelay.Ticks << Math.Min(attempt - 1, 8)));
}
