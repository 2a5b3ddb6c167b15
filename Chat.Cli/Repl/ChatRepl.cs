using System.Diagnostics;
using Chat.Cli.Rendering;
using Chat.Cli.Transports;
using Spectre.Console;

namespace Chat.Cli.Repl;

/// <summary>
/// The interactive client: plain text is a chat message, <c>/commands</c> do the rest. One REPL for all five
/// transports; <c>/protocol</c> swaps the transport under the same (server-side, shared) session.
/// </summary>
public sealed class ChatRepl(
    ChatRenderer renderer,
    TextReader input,
    ChatTransportFactory factory,
    ReplOptions options,
    TimeProvider? timeProvider = null) : IAsyncDisposable
{
    private readonly ClientStatistics _statistics = new(timeProvider ?? TimeProvider.System);
    private readonly Lock _replyLock = new();
    private IChatTransport? _transport;
    private CancellationTokenSource? _reply;

    public string? SessionId { get; private set; }

    public IChatTransport Transport => _transport ?? throw new InvalidOperationException("The REPL has not started.");

    public ClientStatistics Statistics => _statistics;

    private IAnsiConsole Console => renderer.Console;

    /// <summary>Cancels the reply in flight (Ctrl+C); false when there is none, so Ctrl+C may end the program.</summary>
    public bool CancelReply()
    {
        lock (_replyLock)
        {
            if (_reply is null || _reply.IsCancellationRequested)
            {
                return false;
            }

            _reply.Cancel();
            return true;
        }
    }

    /// <summary>Runs until <c>/quit</c> or the end of input; returns the process exit code.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        _transport = factory.Create(options.Protocol);
        try
        {
            // As the original REST client did: check the server first and stop with a clear message if it is down.
            await _transport.GetHealthAsync(cancellationToken);
            if (options.SessionId is { } requested)
            {
                SessionId = (await _transport.GetSessionAsync(requested, cancellationToken)).SessionId;
            }
            else
            {
                var created = await _transport.CreateSessionAsync(options.ModelId, cancellationToken);
                SessionId = created.SessionId;
            }
        }
        catch (ChatTransportException e)
        {
            renderer.Error(e.Message);
            return ExitCodes.For(e.Kind);
        }

        _statistics.SessionStarted();
        renderer.Banner(_transport, SessionId);

        while (!cancellationToken.IsCancellationRequested)
        {
            Console.Markup("[bold green]You:[/] ");
            var line = await input.ReadLineAsync(cancellationToken);
            if (line is null)
            {
                Console.WriteLine();
                break;
            }

            line = line.Trim();
            if (options.EchoInput)
            {
                Console.Profile.Out.Writer.WriteLine(line);
            }

            if (line.Length == 0)
            {
                continue;
            }

            if (!line.StartsWith('/'))
            {
                await ChatAsync(line, cancellationToken);
                continue;
            }

            var parts = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var argument = parts.Length > 1 ? parts[1] : null;
            try
            {
                if (!await RunCommandAsync(parts[0].ToLowerInvariant(), argument, cancellationToken))
                {
                    break;
                }
            }
            catch (ChatTransportException e)
            {
                renderer.Error(e.Message);
            }
        }

        renderer.Info("Goodbye!");
        return ExitCodes.Success;
    }

    /// <summary>Runs one slash command; false for <c>/quit</c>.</summary>
    private async Task<bool> RunCommandAsync(string command, string? argument, CancellationToken cancellationToken)
    {
        switch (command)
        {
            case "/quit" or "/exit" or "/q":
                return false;
            case "/help" or "/?":
                renderer.Help();
                break;
            case "/new":
                var created = await Transport.CreateSessionAsync(argument ?? options.ModelId, cancellationToken);
                SessionId = created.SessionId;
                _statistics.SessionStarted();
                renderer.SessionCreated(created);
                break;
            case "/session":
                if (argument is null)
                {
                    renderer.Info(SessionId is null ? "No session." : $"Current session: {SessionId}");
                    break;
                }

                SessionId = (await Transport.GetSessionAsync(argument, cancellationToken)).SessionId;
                _statistics.SessionStarted();
                renderer.Success($"Switched to session {SessionId}");
                break;
            case "/sessions":
                renderer.Sessions(await Transport.ListSessionsAsync(cancellationToken), SessionId);
                break;
            case "/info":
                if (RequireSession() is { } infoSession)
                {
                    renderer.SessionDetails(await Transport.GetSessionAsync(infoSession, cancellationToken));
                }

                break;
            case "/stats":
                renderer.ClientStatistics(_statistics, Transport.Name);
                break;
            case "/server":
                renderer.Report($"Server statistics ({Transport.Name})", await Transport.GetStatsAsync(cancellationToken));
                break;
            case "/health":
                var health = await Transport.GetHealthAsync(cancellationToken);
                renderer.Report($"Health ({Transport.Name})", health);
                break;
            case "/docs":
                ShowLink("API documentation", Transport.DocsUri);
                break;
            case "/demo":
                ShowLink("Demo page", Transport.DemoUri);
                break;
            case "/clear":
                Console.Clear();
                renderer.Banner(Transport, SessionId);
                break;
            case "/reset":
                if (RequireSession() is { } resetSession)
                {
                    renderer.Success(await Transport.ClearSessionAsync(resetSession, cancellationToken));
                }

                break;
            case "/delete":
                if ((argument ?? RequireSession()) is { } deleteSession)
                {
                    renderer.Success(await Transport.DeleteSessionAsync(deleteSession, cancellationToken));
                    if (deleteSession == SessionId)
                    {
                        SessionId = null;
                        renderer.Info("The next message starts a new session (or /new).");
                    }
                }

                break;
            case "/protocol":
                await SwitchProtocolAsync(argument);
                break;
            case "/strict":
                await SetStrictAsync(argument);
                break;
            case "/resume":
                await ResumeAsync(cancellationToken);
                break;
            default:
                renderer.Warning($"Unknown command: {command}. Type /help for the list.");
                break;
        }

        return true;
    }

    private async Task ChatAsync(string message, CancellationToken cancellationToken)
    {
        if (SessionId is null)
        {
            try
            {
                var created = await Transport.CreateSessionAsync(options.ModelId, cancellationToken);
                SessionId = created.SessionId;
                _statistics.SessionStarted();
                renderer.SessionCreated(created);
            }
            catch (ChatTransportException e)
            {
                renderer.Error(e.Message);
                return;
            }
        }

        await RunReplyAsync(token => Transport.SendAsync(SessionId, message, token), cancellationToken);
    }

    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        if (!Transport.SupportsResume)
        {
            renderer.Warning($"{Transport.Name} replies cannot be resumed (sse, websocket and grpc can).");
            return;
        }

        if (Transport.PendingResume is not { } point)
        {
            renderer.Info("Nothing to resume: the last reply finished.");
            return;
        }

        renderer.Info($"Resuming reply {point.ReplyId} after chunk {point.LastChunkNumber}");
        await RunReplyAsync(token => Transport.ResumeAsync(point, token), cancellationToken);
    }

    private async Task RunReplyAsync(Func<CancellationToken, IAsyncEnumerable<ChatEvent>> start, CancellationToken cancellationToken)
    {
        using var reply = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lock (_replyLock)
        {
            _reply = reply;
        }

        try
        {
            // Wrapped here only on a terminal: piped or redirected output keeps the text as the model wrote it.
            int? wrapWidth = Console.Profile.Out.IsTerminal ? Console.Profile.Width : null;
            var outcome = await ReplyRunner.RunAsync(Transport, start(reply.Token), SessionId, new ConsoleReplySink(Console, wrapWidth), reply.Token);
            _statistics.Record(outcome);
            if (outcome.SessionId is { Length: > 0 } sessionId && sessionId != SessionId)
            {
                SessionId = sessionId;
            }
            else if (outcome.Error is { Kind: ChatErrorKind.NotFound } && factory.StrictSession && SessionId is not null)
            {
                renderer.Info($"Strict sessions: session {SessionId} was not replaced. /new starts a new one, /session <id> switches, /strict off allows replacing.");
            }
        }
        finally
        {
            lock (_replyLock)
            {
                _reply = null;
            }
        }
    }

    private async Task SwitchProtocolAsync(string? protocol)
    {
        if (protocol is null)
        {
            renderer.Info($"Transport: {Transport.Name} at {Transport.Endpoint}. Available: {string.Join(", ", Protocols.All)}");
            return;
        }

        if (Protocols.Normalize(protocol) is not { } name)
        {
            renderer.Warning($"Unknown protocol '{protocol}'. Use one of: {string.Join(", ", Protocols.All)}.");
            return;
        }

        var next = factory.Create(name);
        var previous = Transport;
        _transport = next;
        await previous.DisposeAsync();
        renderer.Success($"Switched to {next.Name} at {next.Endpoint}" + (SessionId is null ? "" : $"; session {SessionId} continues"));
    }

    /// <summary><c>/strict [on|off]</c>: the flag goes with every chat message from the next one on (a new transport carries it).</summary>
    private async Task SetStrictAsync(string? argument)
    {
        bool? wanted = argument?.ToLowerInvariant() switch
        {
            null => null,
            "on" or "true" or "1" => true,
            "off" or "false" or "0" => false,
            _ => null,
        };
        if (argument is not null && wanted is null)
        {
            renderer.Warning($"Use /strict on or /strict off (not '{argument}').");
            return;
        }

        if (wanted is { } strict && strict != factory.StrictSession)
        {
            factory.StrictSession = strict;
            var previous = Transport;
            _transport = factory.Create(previous.Name);
            await previous.DisposeAsync();
        }

        renderer.Info(factory.StrictSession
            ? "Strict sessions on: a session the server does not know is an error, never replaced."
            : "Strict sessions off: a session the server does not know is replaced by a new one (you are told when).");
    }

    private string? RequireSession()
    {
        if (SessionId is null)
        {
            renderer.Warning("No active session: /new creates one.");
        }

        return SessionId;
    }

    /// <summary>Prints the address; opens it only when a browser is configured ($BROWSER), as none is assumed.</summary>
    private void ShowLink(string what, Uri? uri)
    {
        if (uri is null)
        {
            renderer.Warning($"The {Transport.Name} transport has no {what.ToLowerInvariant()}.");
            return;
        }

        renderer.Info($"{what}: {uri}");
        if (options.Browser is { Length: > 0 } browser)
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo(browser, uri.ToString()) { UseShellExecute = false });
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                renderer.Warning($"Could not start the browser '{browser}': {e.Message}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_transport is not null)
        {
            await _transport.DisposeAsync();
        }
    }
}

/// <summary>How the REPL starts: protocol, the session to continue (or a new one), model for new sessions.</summary>
public sealed record ReplOptions(string Protocol, string? SessionId = null, string? ModelId = null, string? Browser = null, bool EchoInput = false);
