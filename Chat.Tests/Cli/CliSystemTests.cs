using System.Text.Json;
using System.Text.RegularExpressions;
using Chat.Cli.Rendering;
using Chat.Cli.Transports;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.SystemTests;
using Chat.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Chat.Tests.Cli;

/// <summary>
/// The CLI as a user drives it (stdin in, stdout/stderr out, exit code) against the whole system started through
/// the AppHost's testing entry point: gateway, five transports, LLM service (offline model), Redis.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed partial class CliSystemTests(AppHostFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    public static TheoryData<string> AllProtocols => new(Protocols.All);

    private string GatewayUrl => _app.GetEndpoint("gateway", "http").ToString().TrimEnd('/');

    private string[] Args(string protocol, params string[] args) =>
        [.. args, "--protocol", protocol, "--url", GatewayUrl, "--grpc-url", _app.GetEndpoint("gateway", "http2").ToString()];

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Repl_ThreeTurnsAndEverySlashCommand_BehaveOverTheGateway(string protocol)
    {
        const string input = """
            My name is Ada
            What is my name?
            Third message
            /info
            /sessions
            /stats
            /server
            /health
            /docs
            /demo
            /reset
            /info
            /help
            /clear
            /protocol
            /resume
            /bogus
            /delete
            /new
            /quit

            """;

        var result = await CliRunner.RunAsync(input, Args(protocol));
        var output = result.Out.Replace("\r", "");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal("", result.Error);
        var session = SessionLine().Match(output).Groups[1].Value;
        Assert.True(Guid.TryParse(session, out _) || session.Length > 8, output);

        // Three turns with history: the offline model's third reply quotes the first message.
        Assert.Contains("Turn 1 of this conversation. You said: \"My name is Ada\".", output);
        Assert.Contains("Turn 2 of this conversation. Your first message was: \"My name is Ada\". You just said: \"What is my name?\".", output);
        Assert.Contains("Turn 3 of this conversation. Your first message was: \"My name is Ada\". You just said: \"Third message\".", output);
        var summaries = Summary().Matches(output);
        Assert.Equal(3, summaries.Count);
        Assert.All(summaries, m => Assert.Equal(protocol, m.Groups["transport"].Value));
        Assert.Equal(["2", "4", "6"], summaries.Select(m => m.Groups["messages"].Value));
        Assert.All(summaries, m => Assert.True(int.Parse(m.Groups["tokens"].Value) > 10, m.Value));

        // /info before and after /reset.
        var counts = MessageCount().Matches(output).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["6", "0"], counts);
        Assert.Contains($"{session} (current)", output);
        Assert.Matches(@"successful_requests\s*│\s*3", output);
        Assert.Matches(@"total_requests\s*│\s*\d+", output);
        Assert.Matches(@"status\s*│\s*healthy", output);
        if (protocol == Protocols.Grpc)
        {
            Assert.Contains("The grpc transport has no api documentation.", output);
            Assert.Contains("The grpc transport has no demo page.", output);
        }
        else
        {
            Assert.Contains($"API documentation: {GatewayUrl}/{protocol}/docs", output);
        }

        Assert.Contains("history cleared successfully", output);
        Assert.Contains("/protocol [name]", output);
        Assert.Contains($"Transport: {protocol} at", output);
        Assert.Contains(protocol == Protocols.Rest || protocol == Protocols.Streaming
            ? $"{protocol} replies cannot be resumed"
            : "Nothing to resume: the last reply finished.", output);
        Assert.Contains("Unknown command: /bogus. Type /help for the list.", output);
        Assert.Contains($"Session {session} deleted successfully", output);
        Assert.Matches(@"✅ New session: \S+", output);
        Assert.Contains("Goodbye!", output);
    }

    [Fact]
    public async Task Repl_ProtocolSwitch_ContinuesTheSameSessionOnEveryTransport()
    {
        const string input = """
            Remember the word kumquat
            /protocol streaming
            second over ndjson
            /protocol sse
            third over sse
            /protocol websocket
            fourth over websocket
            /protocol grpc
            fifth over grpc
            /info
            /quit

            """;

        var result = await CliRunner.RunAsync(input, Args(Protocols.Rest));
        var output = result.Out.Replace("\r", "");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var session = SessionLine().Match(output).Groups[1].Value;
        foreach (var protocol in Protocols.All.Skip(1))
        {
            Assert.Contains($"✅ Switched to {protocol} at", output);
            Assert.Contains($"session {session} continues", output);
        }

        for (var turn = 2; turn <= 5; turn++)
        {
            Assert.Contains($"Turn {turn} of this conversation. Your first message was: \"Remember the word kumquat\".", output);
        }

        Assert.Equal(["rest", "streaming", "sse", "websocket", "grpc"], Summary().Matches(output).Select(m => m.Groups["transport"].Value));
        Assert.Equal(["10"], MessageCount().Matches(output).Select(m => m.Groups[1].Value));
        Assert.Matches($@"Session\s*│\s*{Regex.Escape(session)}", output);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Send_PrintsTheReplyAndJsonEvents_AndContinuesANamedSession(string protocol)
    {
        var session = (await CliRunner.RunAsync("", Args(protocol, "new"))).Out.Trim();

        var plain = await CliRunner.RunAsync("", Args(protocol, "send", "hello from a script", "--session", session));
        var json = await CliRunner.RunAsync("", Args(protocol, "send", "and again", "--session", session, "--json"));

        Assert.Equal(ExitCodes.Success, plain.ExitCode);
        Assert.Equal("[offline model] This is a local offline model, not a real LLM. Turn 1 of this conversation. You said: \"hello from a script\". Ask again and I will remember it.\n",
            plain.Out.Replace("\r", ""));
        Assert.Equal(ExitCodes.Success, json.ExitCode);
        var events = json.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var text = string.Concat(events.Where(e => e.GetProperty("type").GetString() == "chunk").Select(e => e.GetProperty("text").GetString()));
        Assert.Contains("Your first message was: \"hello from a script\". You just said: \"and again\".", text);
        var complete = Assert.Single(events, e => e.GetProperty("type").GetString() == "complete");
        Assert.Equal(4, complete.GetProperty("message_count").GetInt32());
        var summary = events[^1];
        Assert.Equal("summary", summary.GetProperty("type").GetString());
        Assert.Equal(protocol, summary.GetProperty("transport").GetString());
        Assert.Equal(session, summary.GetProperty("session_id").GetString());
        Assert.True(summary.GetProperty("success").GetBoolean());
        Assert.True(summary.GetProperty("time_to_first_token").GetDouble() > 0);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Send_OnUnknownSession_PrintsSessionNotFoundAndExits3(string protocol)
    {
        var result = await CliRunner.RunAsync("", Args(protocol, "send", "hello?", "--session", "00000000-0000-0000-0000-000000000000"));

        Assert.Equal(ExitCodes.NotFound, result.ExitCode);
        Assert.StartsWith("chat: Session not found", result.Error);
        Assert.DoesNotContain("   at ", result.Error);
        Assert.Equal("", result.Out);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Subcommands_NewInfoSessionsHealthServerDelete_WorkOverEachTransport(string protocol)
    {
        var session = (await CliRunner.RunAsync("", Args(protocol, "new"))).Out.Trim();

        var info = await CliRunner.RunAsync("", Args(protocol, "info", "--session", session, "--json"));
        var sessions = await CliRunner.RunAsync("", Args(protocol, "sessions", "--json"));
        var health = await CliRunner.RunAsync("", Args(protocol, "health", "--json"));
        var server = await CliRunner.RunAsync("", Args(protocol, "server", "--json"));
        var deleted = await CliRunner.RunAsync("", Args(protocol, "delete", "--session", session));
        var gone = await CliRunner.RunAsync("", Args(protocol, "info", "--session", session));

        Assert.Equal(session, JsonDocument.Parse(info.Out).RootElement.GetProperty("session_id").GetString());
        Assert.Equal(0, JsonDocument.Parse(info.Out).RootElement.GetProperty("message_count").GetInt32());
        Assert.Contains(JsonDocument.Parse(sessions.Out).RootElement.GetProperty("sessions").EnumerateArray(),
            s => s.GetProperty("session_id").GetString() == session);
        Assert.Equal("healthy", JsonDocument.Parse(health.Out).RootElement.GetProperty("status").GetString());
        Assert.True(JsonDocument.Parse(server.Out).RootElement.TryGetProperty("total_requests", out _), server.Out);
        Assert.Equal(ExitCodes.Success, deleted.ExitCode);
        Assert.Contains("deleted successfully", deleted.Out);
        Assert.Equal(ExitCodes.NotFound, gone.ExitCode);
        Assert.StartsWith("chat: Session not found", gone.Error);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Send_WithTheSystemDown_SaysCannotReachAndExits4(string protocol)
    {
        var down = CliRunner.UnusedUrl();

        var result = await CliRunner.RunAsync("", "send", "anyone?", "--protocol", protocol, "--url", down, "--grpc-url", down);

        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.Matches(@"^chat: Cannot reach \S+: Connection refused", result.Error);
    }

    [GeneratedRegex(@"Session (\S+)\n")]
    private static partial Regex SessionLine();

    [GeneratedRegex(@"⏱ first token \d+\.\d\d s · total \d+\.\d\d s · (?<tokens>\d+) tokens · (?<messages>\d+) messages · (?<transport>\w+)")]
    private static partial Regex Summary();

    [GeneratedRegex(@"Messages\s*│\s*(\d+)")]
    private static partial Regex MessageCount();
}
