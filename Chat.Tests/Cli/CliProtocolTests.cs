using System.Text.Json;
using Chat.Cli.Rendering;
using Chat.Cli.Transports;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cli;

/// <summary>
/// The CLI's five transport clients against a small real server speaking the public wire protocols
/// (<see cref="ScriptedChatServer"/>): protocol-level behaviour the real system cannot be made to show on demand —
/// dropped connections and resume, cancel messages — plus output and exit codes. The whole-system tests are in
/// <c>CliSystemTests</c>.
/// </summary>
public sealed class CliProtocolTests : IAsyncLifetime
{
    private ScriptedChatServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ScriptedChatServer.StartAsync();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string> AllProtocols => new(Protocols.All);

    public static TheoryData<string> ResumableProtocols => new(Protocols.Sse, Protocols.WebSocket, Protocols.Grpc);

    private string[] Args(string protocol, params string[] args) => [.. args, "--protocol", protocol, .. CliRunner.Endpoints(_server)];

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Repl_SendsMessagesAndRendersReplyWithTimings(string protocol)
    {
        var result = await CliRunner.RunAsync("hello there\nsecond message\n/quit\n", Args(protocol));

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains($"Transport {protocol} at", result.Out);
        Assert.Contains("🤖 AI Response", result.Out);
        Assert.Contains("echo: hello there\n", result.Out);
        Assert.Contains("echo: second message\n", result.Out);
        Assert.Matches($@"⏱ first token \d+\.\d\d s · total \d+\.\d\d s · 3 tokens · 2 messages · {protocol}", result.Out);
        Assert.Matches($@"⏱ first token \d+\.\d\d s · total \d+\.\d\d s · 3 tokens · 4 messages · {protocol}", result.Out);
        Assert.Contains("Goodbye!", result.Out);
        Assert.Equal("", result.Error);
    }

    [Theory]
    [MemberData(nameof(ResumableProtocols))]
    public async Task Send_ConnectionDroppedMidReply_ReconnectsAndResumesWithoutRepeatingText(string protocol)
    {
        var session = (await CliRunner.RunAsync("", Args(protocol, "new"))).Out.Trim();
        _server.DropNextReplyAfter(2);

        var result = await CliRunner.RunAsync("", Args(protocol, "send", "one two three four five", "--session", session, "--json"));

        Assert.True(result.ExitCode == ExitCodes.Success, result.Out + result.Error);
        var events = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var chunks = events.Where(e => e.GetProperty("type").GetString() == "chunk").ToList();
        Assert.Equal("echo: one two three four five", string.Concat(chunks.Select(c => c.GetProperty("text").GetString())));
        Assert.Equal([1, 2, 3, 4, 5, 6], chunks.Select(c => c.GetProperty("chunk_number").GetInt32()));
        var resuming = Assert.Single(events, e => e.GetProperty("type").GetString() == "resuming");
        Assert.Equal(2, resuming.GetProperty("last_chunk_number").GetInt32());
        Assert.Equal(1, _server.ResumeRequests);
        Assert.Equal("complete", events[^2].GetProperty("type").GetString());
        Assert.True(events[^1].GetProperty("success").GetBoolean());
    }

    [Theory]
    [MemberData(nameof(ResumableProtocols))]
    public async Task Repl_ConnectionDroppedMidReply_ShowsResumeAndTheWholeReply(string protocol)
    {
        _server.DropNextReplyAfter(1);

        var result = await CliRunner.RunAsync("alpha beta gamma\n/resume\n/quit\n", Args(protocol));

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("⟳ Connection lost: reconnecting and resuming after chunk 1 (attempt 1)", result.Out);
        Assert.Contains("echo:\n⟳", result.Out.Replace("\r", ""));
        Assert.Contains(" alpha beta gamma\n", result.Out);
        Assert.Contains("Nothing to resume: the last reply finished.", result.Out);
    }

    [Theory]
    [MemberData(nameof(ResumableProtocols))]
    public async Task Repl_WithoutAutomaticReconnect_ResumeCommandFinishesTheReply(string protocol)
    {
        _server.DropNextReplyAfter(2);

        var result = await CliRunner.RunAsync("one two three four\n/resume\n/info\n/quit\n", Args(protocol, "--reconnect-attempts", "0"));
        var output = result.Out.Replace("\r", "");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var flowed = System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " ");
        Assert.Matches(@"❌ Connection to \S+ lost \(.+\)\. /resume continues the reply\.", flowed);
        Assert.Matches(@"ℹ Resuming reply \w+ after chunk 2", output);
        Assert.Contains("echo: one\n", output);
        Assert.Contains(" two three four\n", output);
        Assert.DoesNotContain("echo: one two", output);
        Assert.Equal(1, _server.ResumeRequests);
    }

    [Fact]
    public async Task Repl_ResumeOverRest_SaysRestCannotResume()
    {
        var result = await CliRunner.RunAsync("/resume\n/quit\n", Args(Protocols.Rest));

        Assert.Contains("rest replies cannot be resumed (sse, websocket and grpc can).", result.Out);
    }

    [Theory]
    [MemberData(nameof(ResumableProtocols))]
    public async Task Send_CtrlC_SendsCancelAndExitsWith130(string protocol)
    {
        _server.InterChunkDelay = TimeSpan.FromMilliseconds(300);
        var runner = new CliRunner();
        var run = runner.StartAsync("", Args(protocol, "send", "a b c d e f g h i j k l"));

        Assert.True(await runner.InterruptWhenAsync("echo:").DefaultTimeout());
        var result = await run;

        Assert.Equal(ExitCodes.Cancelled, result.ExitCode);
        Assert.Equal(1, _server.CancelRequests);
        Assert.Contains("chat: reply cancelled", result.Error);
        Assert.DoesNotContain(" l", result.Out);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Repl_CtrlC_CancelsTheReplyNotTheProgram(string protocol)
    {
        _server.InterChunkDelay = TimeSpan.FromMilliseconds(300);
        var runner = new CliRunner();
        var run = runner.StartAsync("a b c d e f g h i j k l\n/stats\n/quit\n", Args(protocol));

        // REST shows nothing until the whole reply is there: press Ctrl+C while it is being generated.
        Assert.True(await runner.InterruptWhenAsync(protocol == Protocols.Rest ? "You:" : "echo:", TimeSpan.FromMilliseconds(500)).DefaultTimeout());
        var result = await run;

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("⏹ Reply cancelled", result.Out);
        Assert.Matches(@"cancelled_requests\s*│\s*1", result.Out);
        Assert.Contains("Goodbye!", result.Out);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Send_OnUnknownSession_PrintsNotFoundAndExits3(string protocol)
    {
        var result = await CliRunner.RunAsync("", Args(protocol, "send", "hi", "--session", "no-such-session"));

        Assert.Equal(ExitCodes.NotFound, result.ExitCode);
        Assert.Contains("Session not found", result.Error);
        Assert.DoesNotContain("   at ", result.Error);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Send_WithServerDown_PrintsCannotReachAndExits4(string protocol)
    {
        var down = CliRunner.UnusedUrl();

        var result = await CliRunner.RunAsync("", "send", "hi", "--protocol", protocol, "--url", down, "--grpc-url", down);

        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        var expected = protocol == Protocols.WebSocket ? $"{down.Replace("http:", "ws:")}/websocket/ws" : down;
        Assert.StartsWith($"chat: Cannot reach {expected}", result.Error);
        Assert.Contains("Connection refused", result.Error);
        Assert.DoesNotContain("   at ", result.Error);
    }

    [Fact]
    public async Task Send_WebSocketUpgradeRefused_ShowsTheStatusAndRetryAfter_Exits4()
    {
        _server.RefuseWebSocketUpgradesWith = 503;

        var result = await CliRunner.RunAsync("", Args(Protocols.WebSocket, "send", "hi"));

        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.Equal($"chat: ws://{_server.HttpUrl.Authority}/websocket/ws refused the WebSocket upgrade: ServiceUnavailable [HTTP 503] (retry after 5 s)\n",
            result.Error.Replace("\r", ""));
    }

    [Fact]
    public async Task Repl_WithServerDown_ExitsWithReadableMessage()
    {
        var down = CliRunner.UnusedUrl();

        var result = await CliRunner.RunAsync("hi\n", "--url", down);

        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.Contains($"❌ Cannot reach {down}/sse: Connection refused", result.Out);
    }

    [Fact]
    public async Task Send_EmptyMessage_ShowsProblemDetailAndExits2()
    {
        var result = await CliRunner.RunAsync("", Args(Protocols.Rest, "send", "  "));

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Equal("chat: Message is required [HTTP 400]\n", result.Error.Replace("\r", ""));
    }

    [Theory]
    [InlineData("--protocol", "carrier-pigeon")]
    [InlineData("send")]
    [InlineData("info")]
    [InlineData("--no-such-option")]
    public async Task BadCommandLine_ExitsWithUsageCode2(params string[] args)
    {
        var result = await CliRunner.RunAsync("", [.. args, .. CliRunner.Endpoints(_server)]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.StartsWith("chat: ", result.Error);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Subcommands_ManageSessionsAndReportServerState(string protocol)
    {
        var session = (await CliRunner.RunAsync("", Args(protocol, "new"))).Out.Trim();
        Assert.True(Guid.TryParse(session, out _), session);

        var sessions = await CliRunner.RunAsync("", Args(protocol, "sessions", "--json"));
        Assert.Equal(ExitCodes.Success, sessions.ExitCode);
        var list = JsonDocument.Parse(sessions.Out).RootElement;
        Assert.Contains(list.GetProperty("sessions").EnumerateArray(), s => s.GetProperty("session_id").GetString() == session);

        var info = await CliRunner.RunAsync("", Args(protocol, "info", "--session", session));
        Assert.Equal(ExitCodes.Success, info.ExitCode);
        Assert.Contains(session, info.Out);
        Assert.Matches(@"Messages\s*│\s*0", info.Out);

        var health = await CliRunner.RunAsync("", Args(protocol, "health", "--json"));
        Assert.Equal("healthy", JsonDocument.Parse(health.Out).RootElement.GetProperty("status").GetString());

        var server = await CliRunner.RunAsync("", Args(protocol, "server"));
        Assert.Matches(@"total_requests\s*│\s*7", server.Out);

        var deleted = await CliRunner.RunAsync("", Args(protocol, "delete", "--session", session));
        Assert.Equal(ExitCodes.Success, deleted.ExitCode);
        Assert.Contains($"Session {session} deleted successfully", deleted.Out);

        var gone = await CliRunner.RunAsync("", Args(protocol, "info", "--session", session));
        Assert.Equal(ExitCodes.NotFound, gone.ExitCode);
        Assert.Contains("Session not found", gone.Error);
    }
}
