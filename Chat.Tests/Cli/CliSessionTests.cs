using System.Text.Json;
using System.Text.RegularExpressions;
using Chat.Cli.Rendering;
using Chat.Cli.Transports;

namespace Chat.Tests.Cli;

/// <summary>
/// A session the user named that the server no longer knows (docs/cli.md, "Sessions that are gone"): by default the
/// server's get-or-create replaces it and the CLI says so — "session X not found; started a new one (Y)" — over every
/// transport; with <c>--strict-session</c> (or <c>/strict on</c>) the flag goes with the message and the server's
/// "Session not found" is an error, with nothing created. <see cref="ScriptedChatServer"/> forgets the session just
/// before the message names it, as an expiry between the client's check and its turn would.
/// </summary>
public sealed partial class CliSessionTests : IAsyncLifetime
{
    private ScriptedChatServer _server = null!;

    public async Task InitializeAsync() => _server = await ScriptedChatServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string> AllProtocols => new(Protocols.All);

    private string[] Args(string protocol, params string[] args) => [.. args, "--protocol", protocol, .. CliRunner.Endpoints(_server)];

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Repl_SessionGoneBeforeAMessage_SaysNotFoundAndStartedANewOne_ThenContinuesOnIt(string protocol)
    {
        _server.ForgetSessionOnNextChat();

        var result = await CliRunner.RunAsync("one\ntwo\n/quit\n", Args(protocol));

        Assert.True(result.ExitCode == ExitCodes.Success, result.Out + result.Error);
        var output = result.Out.Replace("\r", "");
        var original = BannerSession().Match(output).Groups[1].Value;
        var replaced = Assert.Single(Replaced().Matches(output));
        Assert.Equal(original, replaced.Groups["old"].Value);
        var replacement = replaced.Groups["new"].Value;
        Assert.NotEqual(original, replacement);
        Assert.Equal([replacement], _server.SessionIds);
        // Said once, in place of the "new session" line; the next message continues on the new session.
        Assert.DoesNotContain("✨ New session", output);
        Assert.Contains("echo: one\n", output);
        Assert.Contains($"· 4 messages · {protocol}", output);
        Assert.Equal(0, _server.StrictRequests);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Send_SessionGoneAfterTheCheck_SaysSoOnStderr_ReplyOnStdout(string protocol)
    {
        var session = (await CliRunner.RunAsync("", Args(protocol, "new"))).Out.Trim();
        _server.ForgetSessionOnNextChat();

        var result = await CliRunner.RunAsync("", Args(protocol, "send", "hello", "--session", session));

        Assert.True(result.ExitCode == ExitCodes.Success, result.Out + result.Error);
        var replacement = Assert.Single(_server.SessionIds);
        Assert.Equal($"chat: session {session} not found; started a new one ({replacement})\n", result.Error.Replace("\r", ""));
        Assert.Equal("echo: hello\n", result.Out.Replace("\r", ""));
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task SendJson_SessionGoneAfterTheCheck_IsASessionReplacedEvent(string protocol)
    {
        var session = (await CliRunner.RunAsync("", Args(protocol, "new"))).Out.Trim();
        _server.ForgetSessionOnNextChat();

        var result = await CliRunner.RunAsync("", Args(protocol, "send", "hello", "--session", session, "--json"));

        Assert.True(result.ExitCode == ExitCodes.Success, result.Out + result.Error);
        var replacement = Assert.Single(_server.SessionIds);
        var events = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var replaced = Assert.Single(events, e => e.GetProperty("type").GetString() == "session_replaced");
        Assert.Equal(session, replaced.GetProperty("requested_session_id").GetString());
        Assert.Equal(replacement, replaced.GetProperty("session_id").GetString());
        Assert.Equal($"session {session} not found; started a new one ({replacement})", replaced.GetProperty("message").GetString());
        Assert.Equal(replacement, events[^1].GetProperty("session_id").GetString());
        Assert.True(events[^1].GetProperty("success").GetBoolean());
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Repl_StrictSession_SessionGone_IsSessionNotFound_AndNothingIsCreated(string protocol)
    {
        _server.ForgetSessionOnNextChat();

        var result = await CliRunner.RunAsync("one\n/quit\n", Args(protocol, "--strict-session"));

        Assert.True(result.ExitCode == ExitCodes.Success, result.Out + result.Error);
        var output = result.Out.Replace("\r", "");
        var original = BannerSession().Match(output).Groups[1].Value;
        Assert.Contains("❌ Session not found", output);
        Assert.Contains($"Strict sessions: session {original} was not replaced.", output);
        Assert.DoesNotMatch(Replaced(), output);
        Assert.Empty(_server.SessionIds);
        Assert.Equal(1, _server.StrictRequests);
    }

    [Theory]
    [MemberData(nameof(AllProtocols))]
    public async Task Send_StrictSession_UnknownSession_IsRefusedByTheServer_Exit3(string protocol)
    {
        var unknown = Guid.NewGuid().ToString();

        var result = await CliRunner.RunAsync("", Args(protocol, "send", "hi", "--session", unknown, "--strict-session"));

        Assert.Equal(ExitCodes.NotFound, result.ExitCode);
        Assert.Contains("Session not found", result.Error);
        // The server refused the strict message itself (no separate existence check first), and created nothing.
        Assert.Equal(1, _server.StrictRequests);
        Assert.Empty(_server.SessionIds);
    }

    [Fact]
    public async Task Repl_StrictCommand_TurnsTheFlagOnAndOff()
    {
        _server.ForgetSessionOnNextChat();

        var result = await CliRunner.RunAsync("/strict\n/strict on\none\n/strict off\ntwo\n/quit\n", Args(Protocols.Rest));

        var output = result.Out.Replace("\r", "");
        Assert.Contains("Strict sessions off: a session the server does not know is replaced by a new one", output);
        Assert.Contains("Strict sessions on: a session the server does not know is an error, never replaced.", output);
        Assert.Contains("❌ Session not found [HTTP 404]", output);
        Assert.Equal(1, _server.StrictRequests);
        // Off again: the gone session is replaced, and said so.
        Assert.Single(Replaced().Matches(output));
        Assert.Contains("echo: two\n", output);
    }

    [GeneratedRegex(@"Session (\S+)\n")]
    private static partial Regex BannerSession();

    [GeneratedRegex(@"⚠ session (?<old>\S+) not found; started a new one \((?<new>[^)]+)\)")]
    private static partial Regex Replaced();
}
