using Chat.Cli.Transports;

namespace Chat.Cli.Rendering;

/// <summary><c>chat send</c> without <c>--json</c>: only the reply text on stdout, errors on stderr.</summary>
public sealed class PlainReplySink(TextWriter output, TextWriter error) : IReplySink
{
    public Task WaitForFirstTokenAsync(Task firstEvent, Func<string> status) => firstEvent;

    public void OnEvent(ChatEvent chatEvent)
    {
        if (chatEvent is ChunkEvent chunk)
        {
            output.Write(chunk.Text);
            output.Flush();
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
