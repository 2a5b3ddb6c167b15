using Chat.Cli.Transports;

namespace Chat.Cli.Rendering;

/// <summary><c>chat send</c> without <c>--json</c>: only the reply text on stdout, errors on stderr.</summary>
public sealed class PlainReplySink(TextWriter output, TextWriter error) : IReplySink
{
    public Task WaitForFirstTokenAsync(Task firstEvent, Func<string> status) => firstEvent;

    public void OnEvent(ChatEvent chatEvent)
    {
        switch (chatEvent)
        {
            case ChunkEvent chunk:
                output.Write(chunk.Text);
                output.Flush();
                break;
            case SessionReplacedEvent replaced:
                // On stderr: stdout stays the reply alone, for scripts.
                error.WriteLine($"chat: {replaced.Message}");
                break;
        }
    }

    public void OnFinished(ReplyOutcome outcome)
    {
        if (outcome.Chunks > 0)
        {
            output.WriteLine();
        }

        if (outcome.Cancelled)
        {
            error.WriteLine("chat: reply cancelled");
        }
        else if (outcome.Error is { } failure)
        {
            error.WriteLine($"chat: {failure.Message}");
        }
    }
}
