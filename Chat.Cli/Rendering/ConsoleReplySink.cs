using System.Globalization;
using Chat.Cli.Transports;
using Spectre.Console;

namespace Chat.Cli.Rendering;

/// <summary>The REPL's rendering of a reply: a spinner until the first token, the text as it arrives, then the timings.</summary>
public sealed class ConsoleReplySink(IAnsiConsole console) : IReplySink
{
    private bool _textStarted;
    private bool _atLineStart = true;

    public async Task WaitForFirstTokenAsync(Task firstEvent, Func<string> status)
    {
        await console.Status()
            .Spinner(Spinner.Known.Dots)
            .SpinnerStyle(Style.Parse("yellow"))
            .StartAsync(Markup.Escape(status()), async context =>
            {
                while (!firstEvent.IsCompleted)
                {
                    context.Status(Markup.Escape(status()));
                    await Task.WhenAny(firstEvent, Task.Delay(100));
                }

                await firstEvent;
            });
    }

    public void OnEvent(ChatEvent chatEvent)
    {
        switch (chatEvent)
        {
            case SessionEvent { IsNew: true } session:
                console.MarkupLineInterpolated($"[green]✨ New session:[/] {session.SessionId}");
                break;
            case ChunkEvent chunk:
                if (!_textStarted)
                {
                    console.MarkupLine("[bold blue]🤖 AI Response[/]");
                    _textStarted = true;
                }

                // Raw text, not markup and not re-wrapped: the model's own line breaks are kept.
                console.Profile.Out.Writer.Write(chunk.Text);
                console.Profile.Out.Writer.Flush();
                _atLineStart = chunk.Text.EndsWith('\n');
                break;
            case ResumingEvent resuming:
                EndLine();
                console.MarkupLineInterpolated(
                    $"[yellow]⟳ Connection lost: reconnecting and resuming after chunk {resuming.LastChunkNumber} (attempt {resuming.Attempt})[/]");
                break;
        }
    }

    public void OnFinished(ReplyOutcome outcome)
    {
        EndLine();
        if (outcome.Cancelled)
        {
            console.MarkupLine("[yellow]⏹ Reply cancelled[/]");
        }
        else if (outcome.Error is { } error)
        {
            console.MarkupLineInterpolated($"[red]❌ {error.Message}[/]");
        }

        if (outcome.Chunks > 0 || outcome.Completed is not null)
        {
            console.MarkupLine($"[grey]{Markup.Escape(Summary(outcome))}[/]");
        }
    }

    /// <summary>"⏱ first token 0.21 s · total 1.35 s · 42 tokens · 4 messages · sse".</summary>
    public static string Summary(ReplyOutcome outcome)
    {
        var parts = new List<string>();
        if (outcome.TimeToFirstToken is { } firstToken)
        {
            parts.Add($"first token {Seconds(firstToken)}");
        }

        parts.Add($"total {Seconds(outcome.TotalTime)}");
        parts.Add($"{outcome.Tokens} tokens");
        if (outcome.Completed?.MessageCount is { } messages)
        {
            parts.Add($"{messages} messages");
        }

        parts.Add(outcome.Transport);
        return "⏱ " + string.Join(" · ", parts);
    }

    private static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    private void EndLine()
    {
        if (!_atLineStart)
        {
            console.WriteLine();
            _atLineStart = true;
        }
    }
}
