using Chat.Cli.Transports;

namespace Chat.Cli.Rendering;

/// <summary>Where a reply's events go as they arrive: the REPL's console, plain stdout, or NDJSON.</summary>
public interface IReplySink
{
    /// <summary>Called once before the first event; <paramref name="firstEvent"/> completes when one arrives (spinner).</summary>
    Task WaitForFirstTokenAsync(Task firstEvent, Func<string> status);

    void OnEvent(ChatEvent chatEvent);

    void OnFinished(ReplyOutcome outcome);
}
