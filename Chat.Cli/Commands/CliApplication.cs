using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json;
using Chat.Cli.Rendering;
using Chat.Cli.Repl;
using Chat.Cli.Transports;

namespace Chat.Cli.Commands;

/// <summary>
/// The command line: <c>chat</c> alone is the REPL; <c>chat send</c> and the other subcommands are its slash
/// commands for scripts, with exit codes (<see cref="ExitCodes"/>).
/// </summary>
public sealed class CliApplication
{
    public const string DefaultProtocol = Protocols.Sse;

    private readonly Option<string> Protocol = new("--protocol", "-p")
    {
        Description = "Transport: rest, streaming, sse, websocket or grpc",
        DefaultValueFactory = _ => DefaultProtocol,
        Recursive = true,
    };

    private readonly Option<Uri> Url = new("--url", "-u")
    {
        Description = "The gateway (HTTP and WebSocket protocols under /rest, /streaming, /sse, /websocket)",
        DefaultValueFactory = _ => ChatEndpoints.DefaultGatewayUrl,
        CustomParser = ParseHttpUrl,
        Recursive = true,
    };

    private readonly Option<Uri> GrpcUrl = new("--grpc-url")
    {
        Description = "The native gRPC address (the gateway's HTTP/2 port)",
        DefaultValueFactory = _ => ChatEndpoints.DefaultGrpcUrl,
        CustomParser = ParseHttpUrl,
        Recursive = true,
    };

    private readonly Option<bool> Direct = new("--direct")
    {
        Description = "--url is one transport service itself, not the gateway: add no path prefix",
        Recursive = true,
    };

    private readonly Option<string?> Session = new("--session", "-s")
    {
        Description = "The session to use (default: a new one)",
        Recursive = true,
    };

    private readonly Option<string?> Model = new("--model", "-m")
    {
        Description = "The model for new sessions (default: the server's)",
        Recursive = true,
    };

    private readonly Option<double> Timeout = new("--timeout")
    {
        Description = "Seconds to wait for a non-streaming call",
        DefaultValueFactory = _ => 30,
        Recursive = true,
    };

    private readonly Option<int> ReconnectAttempts = new("--reconnect-attempts")
    {
        Description = "How often a dropped reply is reconnected and resumed (sse, websocket, grpc); 0: never",
        DefaultValueFactory = _ => ReconnectPolicy.DefaultAttempts,
        Recursive = true,
    };

    private readonly Option<bool> StrictSession = new("--strict-session")
    {
        Description = "A session the server does not know is an error (exit 3), never quietly replaced by a new one",
        Recursive = true,
    };

    private readonly Option<bool> JsonOutput = new("--json")
    {
        Description = "Machine-readable output (send: one normalized event per line, NDJSON)",
    };

    private CliApplication()
    {
        Protocol.HelpName = string.Join('|', Protocols.All);
        Protocol.Validators.Add(result =>
        {
            if (Protocols.Normalize(result.GetValueOrDefault<string>()) is null)
            {
                result.AddError($"Unknown protocol '{result.GetValueOrDefault<string>()}': use one of {string.Join(", ", Protocols.All)}.");
            }
        });
    }

    public static async Task<int> RunAsync(string[] args, CliIo io, CancellationToken cancellationToken = default)
    {
        var root = new CliApplication().BuildRootCommand(io);
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                await io.Error.WriteLineAsync($"chat: {error.Message}");
            }

            await io.Error.WriteLineAsync("Run 'chat --help' for usage.");
            return ExitCodes.Usage;
        }

        try
        {
            // Ctrl+C is ours: it cancels a reply, not the program (Program.cs routes it to CliIo.OnInterrupt).
            return await parseResult.InvokeAsync(
                new InvocationConfiguration { Output = io.Out, Error = io.Error, ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false },
                cancellationToken);
        }
        catch (ChatTransportException e)
        {
            await io.Error.WriteLineAsync($"chat: {e.Message}");
            return ExitCodes.For(e.Kind);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug of ours, still one readable line rather than a stack trace (CHAT_DEBUG=1 shows it).
            await io.Error.WriteLineAsync(io.GetEnvironmentVariable("CHAT_DEBUG") is "1" ? $"chat: {e}" : $"chat: unexpected error: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private static Uri? ParseHttpUrl(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            return uri;
        }

        result.AddError($"'{text}' is not an http:// or https:// URL.");
        return null;
    }

    private RootCommand BuildRootCommand(CliIo io)
    {
        var root = new RootCommand("Chat with the GenAI chat backend over REST, NDJSON streaming, SSE, WebSocket or gRPC.")
        {
            Protocol, Url, GrpcUrl, Direct, Session, Model, Timeout, ReconnectAttempts, StrictSession,
        };
        root.SetAction((parse, token) => RunReplAsync(parse, io, token));

        var message = new Argument<string>("message") { Description = "The message to send" };
        var send = new Command("send", "Send one message and print the reply") { message, JsonOutput };
        send.SetAction((parse, token) => SendAsync(parse, parse.GetRequiredValue(message), io, token));
        root.Add(send);

        root.Add(Subcommand("sessions", "List the active sessions", io, async (transport, parse, token) =>
        {
            var sessions = await transport.ListSessionsAsync(token);
            return Print(io, parse, sessions, r => r.Sessions(sessions, parse.GetValue(Session)));
        }));
        root.Add(Subcommand("new", "Create a session and print its id", io, async (transport, parse, token) =>
        {
            var created = await transport.CreateSessionAsync(parse.GetValue(Model), token);
            if (parse.GetValue(JsonOutput))
            {
                return Print(io, parse, created, _ => { });
            }

            // The bare id, so scripts can write SESSION=$(chat new).
            await io.Out.WriteLineAsync(created.SessionId);
            return ExitCodes.Success;
        }));
        root.Add(Subcommand("info", "Show a session (--session)", io, async (transport, parse, token) =>
        {
            var details = await transport.GetSessionAsync(RequiredSession(parse), token);
            return Print(io, parse, details, r => r.SessionDetails(details));
        }));
        root.Add(Subcommand("delete", "Delete a session (--session)", io, async (transport, parse, token) =>
        {
            var result = await transport.DeleteSessionAsync(RequiredSession(parse), token);
            return Print(io, parse, new { message = result }, r => r.Success(result));
        }));
        root.Add(Subcommand("reset", "Clear a session's history on the server (--session)", io, async (transport, parse, token) =>
        {
            var result = await transport.ClearSessionAsync(RequiredSession(parse), token);
            return Print(io, parse, new { message = result }, r => r.Success(result));
        }));
        root.Add(Subcommand("health", "Check the server's health", io, async (transport, parse, token) =>
        {
            var health = await transport.GetHealthAsync(token);
            return Print(io, parse, ToObject(health), r => r.Report($"Health ({transport.Name})", health));
        }));
        root.Add(Subcommand("server", "Show the server's statistics", io, async (transport, parse, token) =>
        {
            var stats = await transport.GetStatsAsync(token);
            return Print(io, parse, ToObject(stats), r => r.Report($"Server statistics ({transport.Name})", stats));
        }));
        return root;
    }

    private ChatTransportFactory Factory(ParseResult parse) =>
        new(new ChatEndpoints(parse.GetRequiredValue(Url), parse.GetRequiredValue(GrpcUrl), parse.GetValue(Direct)),
            TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(Timeout))),
            new ReconnectPolicy(Math.Max(0, parse.GetValue(ReconnectAttempts))),
            parse.GetValue(StrictSession));

    private string ProtocolOf(ParseResult parse) => Protocols.Normalize(parse.GetValue(Protocol)) ?? DefaultProtocol;

    private async Task<int> RunReplAsync(ParseResult parse, CliIo io, CancellationToken cancellationToken)
    {
        var options = new ReplOptions(ProtocolOf(parse), parse.GetValue(Session), parse.GetValue(Model), io.GetEnvironmentVariable("BROWSER"), io.EchoInput);
        await using var repl = new ChatRepl(new ChatRenderer(io.Console), io.In, Factory(parse), options);
        io.OnInterrupt = repl.CancelReply;
        try
        {
            return await repl.RunAsync(cancellationToken);
        }
        finally
        {
            io.OnInterrupt = null;
        }
    }

    private async Task<int> SendAsync(ParseResult parse, string message, CliIo io, CancellationToken cancellationToken)
    {
        await using var transport = Factory(parse).Create(ProtocolOf(parse));
        using var reply = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        io.OnInterrupt = () =>
        {
            reply.Cancel();
            return true;
        };
        try
        {
            IReplySink sink = parse.GetValue(JsonOutput) ? new JsonReplySink(io.Out) : new PlainReplySink(io.Out, io.Error);
            var sessionId = parse.GetValue(Session);
            if (sessionId is not null && !parse.GetValue(StrictSession))
            {
                // The servers start a new session for an unknown id (the original's get-or-create): a session named
                // on the command line that does not exist is an error instead. With --strict-session the server
                // itself refuses it, with no gap between the check and the turn; a session that vanishes in that gap
                // here is replaced, and said so on stderr.
                await transport.GetSessionAsync(sessionId, reply.Token);
            }

            var outcome = await ReplyRunner.RunAsync(transport, transport.SendAsync(sessionId, message, reply.Token), sessionId, sink, reply.Token);
            return outcome.Succeeded ? ExitCodes.Success
                : outcome.Cancelled ? ExitCodes.Cancelled
                : ExitCodes.For(outcome.Error?.Kind ?? ChatErrorKind.Other);
        }
        catch (ChatTransportException e)
        {
            await io.Error.WriteLineAsync($"chat: {e.Message}");
            return ExitCodes.For(e.Kind);
        }
        finally
        {
            io.OnInterrupt = null;
        }
    }

    private Command Subcommand(
        string name, string description, CliIo io, Func<IChatTransport, ParseResult, CancellationToken, Task<int>> action)
    {
        var command = new Command(name, description) { JsonOutput };
        command.SetAction(async (parse, token) =>
        {
            try
            {
                await using var transport = Factory(parse).Create(ProtocolOf(parse));
                return await action(transport, parse, token);
            }
            catch (ChatTransportException e)
            {
                await io.Error.WriteLineAsync($"chat: {e.Message}");
                return ExitCodes.For(e.Kind);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return ExitCodes.Cancelled;
            }
        });
        return command;
    }

    private string RequiredSession(ParseResult parse) =>
        parse.GetValue(Session) ?? throw new ChatTransportException(ChatErrorKind.InvalidArgument, "--session <id> is required.");

    private int Print<T>(CliIo io, ParseResult parse, T value, Action<ChatRenderer> render)
    {
        if (parse.GetValue(JsonOutput))
        {
            io.Out.WriteLine(JsonSerializer.Serialize(value, JsonReplySink.Options));
        }
        else
        {
            render(new ChatRenderer(io.Console));
        }

        return ExitCodes.Success;
    }

    private static Dictionary<string, string> ToObject(ServerReport report) =>
        report.Fields.GroupBy(f => f.Key).ToDictionary(g => g.Key, g => g.First().Value);
}
