using System.Globalization;
using System.Text;
using Chat.Cli.Transports;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Chat.Cli.Rendering;

/// <summary>
/// The REPL's rendering of a reply: a spinner until the first token, the text as it arrives, then the timings.
/// <para>
/// With <paramref name="wrapWidth"/> (the terminal's width; the REPL passes it when stdout is a terminal) the text is
/// word-wrapped here: left to the terminal, a line that fills up exactly breaks before the space that follows it, so
/// the next line starts with a stray space, and words are cut anywhere. Words are held until they end (a space, a
/// line break, the end of the reply) and go on the next line when they do not fit; the space at a wrap is dropped,
/// the model's own line breaks and indentation are kept. Without a width (a pipe, a file) the text is written as is.
/// </para>
/// </summary>
public sealed class ConsoleReplySink(IAnsiConsole console, int? wrapWidth = null) : IReplySink
{
    private readonly StringBuilder _word = new();
    private bool _textStarted;
    private bool _atLineStart = true;
    private int _column;
    private int _pendingSpaces;
    private string? _replacedBy;

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
            case SessionReplacedEvent replaced:
                console.MarkupLineInterpolated($"[yellow]⚠ {replaced.Message}[/]");
                _replacedBy = replaced.SessionId;
                break;
            case SessionEvent { IsNew: true } session when session.SessionId != _replacedBy:
                console.MarkupLineInterpolated($"[green]✨ New session:[/] {session.SessionId}");
                break;
            case ChunkEvent chunk:
                if (!_textStarted)
                {
                    console.MarkupLine("[bold blue]🤖 AI Response[/]");
                    _textStarted = true;
                }

                // Raw text, not markup: the model's own line breaks are kept.
                if (wrapWidth is > 0 and var width)
                {
                    WriteWrapped(chunk.Text, width);
                }
                else
                {
                    Out.Write(chunk.Text);
                    _atLineStart = chunk.Text.Length == 0 ? _atLineStart : chunk.Text.EndsWith('\n');
                }

                Out.Flush();
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

    private TextWriter Out => console.Profile.Out.Writer;

    private static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    private void WriteWrapped(string text, int width)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '\r':
                    break;
                case '\n':
                    FlushWord(width);
                    Out.Write('\n');
                    _column = 0;
                    _pendingSpaces = 0;
                    break;
                case ' ':
                    FlushWord(width);
                    _pendingSpaces++;
                    break;
                case '\t':
                    FlushWord(width);
                    _pendingSpaces += 4;
                    break;
                default:
                    _word.Append(c);
                    break;
            }
        }

        _atLineStart = _column == 0 && _word.Length == 0;
    }

    /// <summary>Writes the word held back, on this line if it fits after the spaces before it, else on the next.</summary>
    private void FlushWord(int width)
    {
        if (_word.Length == 0)
        {
            return;
        }

        var word = _word.ToString();
        _word.Clear();
        var wordWidth = new Segment(word).CellCount();
        if (_column > 0 && _column + _pendingSpaces + wordWidth > width)
        {
            // The wrap: the spaces that separated the words are dropped, so the new line starts with the word.
            Out.Write('\n');
            _column = 0;
        }
        else if (_pendingSpaces > 0)
        {
            // Between words, or the model's own indentation at the start of a line.
            Out.Write(new string(' ', _pendingSpaces));
            _column += _pendingSpaces;
        }

        _pendingSpaces = 0;

        // A word longer than a whole line is cut at the edge (a URL, say): nothing better fits.
        while (_column + wordWidth > width && word.Length > 1)
        {
            var fits = Math.Max(1, width - _column);
            Out.Write(word[..Math.Min(fits, word.Length)]);
            Out.Write('\n');
            word = word[Math.Min(fits, word.Length)..];
            wordWidth = new Segment(word).CellCount();
            _column = 0;
        }

        Out.Write(word);
        _column += wordWidth;
    }

    private void EndLine()
    {
        if (wrapWidth is > 0 and var width)
        {
            FlushWord(width);
            _pendingSpaces = 0;
            _atLineStart = _column == 0;
        }

        if (!_atLineStart)
        {
            console.WriteLine();
            _atLineStart = true;
        }

        _column = 0;
    }
}
