using System.Text;
using Chat.Cli.Commands;
using Chat.Cli.Rendering;
using Chat.Cli.Transports;
using Spectre.Console;

namespace Chat.Tests.Cli;

/// <summary>
/// What the REPL prints, rendered by the real Spectre console into a string (no colours, fixed width): the reply's
/// word wrap, and the <c>/sessions</c> and <c>/info</c> tables (readable names, durations, local times).
/// </summary>
public sealed class CliRenderingTests
{
    /// <summary>Offline-model style tokens: each word keeps its trailing space.</summary>
    private static readonly string[] Tokens =
        ["[offline ", "model] ", "This ", "is ", "a ", "local ", "offline ", "model, ", "not ", "a ", "real ", "LLM. ", "Turn ", "2 ", "of ", "this ", "conversation."];

    [Theory]
    [InlineData(20)]
    [InlineData(23)]
    [InlineData(31)]
    public void Reply_OnATerminal_IsWrappedAtWords_WithNoLeadingSpaceOnWrappedLines(int width)
    {
        var (console, output) = Console(width);
        var sink = new ConsoleReplySink(console, wrapWidth: width);

        Render(sink, Tokens);

        var lines = ReplyLines(output);
        Assert.True(lines.Count > 2, string.Join("\n", lines));
        Assert.All(lines, line =>
        {
            Assert.False(line.StartsWith(' '), $"'{line}' starts with a space");
            Assert.True(line.Length <= width, $"'{line}' is longer than {width}");
        });
        // Nothing lost or doubled: only the spaces at the wraps became line breaks.
        Assert.Equal(string.Concat(Tokens), string.Join(" ", lines));
    }

    [Fact]
    public void Reply_OnATerminal_KeepsTheModelsLineBreaksAndIndentation_AndCutsAWordLongerThanALine()
    {
        var (console, output) = Console(16);
        var sink = new ConsoleReplySink(console, wrapWidth: 16);

        Render(sink, ["Steps:\n", "  1. ", "open ", "the ", "door\n", "https://example.org/a/long/path ", "done"]);

        Assert.Equal(["Steps:", "  1. open the", "door", "https://example.", "org/a/long/path", "done"], ReplyLines(output));
    }

    [Fact]
    public void Reply_NotOnATerminal_IsWrittenAsTheModelSentIt()
    {
        var (console, output) = Console(20);
        var sink = new ConsoleReplySink(console);

        Render(sink, Tokens);

        Assert.Equal([string.Concat(Tokens)], ReplyLines(output));
    }

    [Fact]
    public void Sessions_HasReadableColumns_ActiveForAsADuration_AndLocalCreationTimes()
    {
        var (console, output) = Console(120);
        var renderer = new ChatRenderer(console, PlusTwo);

        renderer.Sessions(new SessionList(2,
        [
            new SessionSummary("11111111-aaaa-4bbb-8ccc-000000000001", "offline-echo-1", 4, 0.5, "2026-01-01T00:00:00Z"),
            new SessionSummary("11111111-aaaa-4bbb-8ccc-000000000002", "offline-echo-1", 12, 75.25, "2026-03-05T22:30:15.123Z"),
        ]), currentSessionId: "11111111-aaaa-4bbb-8ccc-000000000002");

        var text = output.ToString();
        Assert.Matches(@"│ Session\s+│ Model\s+│ Messages │ Active for │ Created\s+│", text);
        Assert.DoesNotContain("minutes", text);
        Assert.DoesNotContain("created_at", text);
        Assert.Matches(@"000000000001\s+│ offline-echo-1 │\s+4 │\s+30 s │ 2026-01-01 02:00:00 │", text);
        Assert.Matches(@"000000000002 \(current\)\s+│ offline-echo-1 │\s+12 │\s+1 h 15 min │ 2026-03-06 00:30:15 │", text);
        Assert.DoesNotContain("T00:00:00Z", text);
        Assert.Contains("Times are local (UTC+02:00)", text);
    }

    [Fact]
    public void Info_HasReadableFieldNames_ActiveForAsADuration_AndTheLocalCreationTime()
    {
        var (console, output) = Console(120);
        var renderer = new ChatRenderer(console, PlusTwo);

        renderer.SessionDetails(new SessionDetails("11111111-aaaa-4bbb-8ccc-000000000001", "offline-echo-1", 6, 3, 3, 754.2, "2026-01-01T23:59:00Z"));

        var text = output.ToString();
        Assert.Matches(@"│ Session\s+│ 11111111-aaaa-4bbb-8ccc-000000000001\s+│", text);
        Assert.Matches(@"│ Messages\s+│ 6\s+│", text);
        Assert.Matches(@"│ User messages\s+│ 3\s+│", text);
        Assert.Matches(@"│ Model messages\s+│ 3\s+│", text);
        Assert.Matches(@"│ Active for\s+│ 12 min\s+│", text);
        Assert.Matches(@"│ Created\s+│ 2026-01-02 01:59:00\s+│", text);
        Assert.DoesNotContain("_", text);
    }

    [Theory]
    [InlineData(0, "0 s")]
    [InlineData(59.9, "59 s")]
    [InlineData(60, "1 min")]
    [InlineData(3599, "59 min")]
    [InlineData(3660, "1 h 01 min")]
    [InlineData(90_000, "1 d 1 h")]
    public void Duration_IsAsLongAsItNeedsToBe(double seconds, string expected) =>
        Assert.Equal(expected, ChatRenderer.Duration(TimeSpan.FromSeconds(seconds)));

    private static readonly TimeZoneInfo PlusTwo = TimeZoneInfo.CreateCustomTimeZone("Test+2", TimeSpan.FromHours(2), "Test+2", "Test+2");

    private static (IAnsiConsole Console, StringWriter Output) Console(int width)
    {
        var output = new StringWriter();
        var io = CliIo.Plain(TextReader.Null, output, TextWriter.Null, width);
        return (io.Console, output);
    }

    private static void Render(ConsoleReplySink sink, IEnumerable<string> chunks)
    {
        var number = 0;
        foreach (var chunk in chunks)
        {
            sink.OnEvent(new ChunkEvent(chunk, ++number));
        }

        sink.OnFinished(new ReplyOutcome("sse", "s", "", null, TimeSpan.Zero, number, null, null, Cancelled: false));
    }

    /// <summary>The lines between the "AI Response" heading and the end of the text (the sink adds nothing else here).</summary>
    private static List<string> ReplyLines(StringWriter output)
    {
        var lines = output.ToString().Replace("\r", "").Split('\n').ToList();
        var start = lines.FindIndex(l => l.Contains("AI Response", StringComparison.Ordinal)) + 1;
        var end = lines.FindIndex(start, l => l.StartsWith("⏱", StringComparison.Ordinal) || l.Length == 0);
        return lines[start..(end < 0 ? lines.Count : end)];
    }
}
