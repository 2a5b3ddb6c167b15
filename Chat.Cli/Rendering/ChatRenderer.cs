using System.Globalization;
using Chat.Cli.Repl;
using Chat.Cli.Transports;
using Spectre.Console;

namespace Chat.Cli.Rendering;

/// <summary>Everything the REPL and the subcommands print besides a reply, through one Spectre console.</summary>
public sealed class ChatRenderer(IAnsiConsole console)
{
    public static readonly IReadOnlyList<(string Command, string Description)> Commands =
    [
        ("/help", "Show available commands"),
        ("/new", "Create a new chat session"),
        ("/sessions", "List all active sessions"),
        ("/session <id>", "Continue an existing session"),
        ("/info", "Show current session details"),
        ("/stats", "Display client statistics"),
        ("/server", "Show server statistics"),
        ("/health", "Check server health"),
        ("/docs", "Show (or open) the API documentation"),
        ("/demo", "Show (or open) the browser demo page"),
        ("/clear", "Clear the screen"),
        ("/reset", "Clear the session's history on the server"),
        ("/delete [id]", "Delete the current (or the given) session"),
        ("/protocol [name]", "Show or switch the transport: rest, streaming, sse, websocket, grpc (the session carries over)"),
        ("/resume", "Continue a reply interrupted by a lost connection"),
        ("/quit", "Exit the client"),
    ];

    public IAnsiConsole Console => console;

    public void Banner(IChatTransport transport, string? sessionId)
    {
        console.Write(new Rule("[bold]💬 Chat[/]").LeftJustified());
        console.MarkupLineInterpolated($"Transport [bold]{transport.Name}[/] at {transport.Endpoint}");
        if (sessionId is not null)
        {
            console.MarkupLineInterpolated($"Session [bold]{sessionId}[/]");
        }

        console.MarkupLine("Type a message, or [bold]/help[/] for commands. Ctrl+C cancels a reply.");
    }

    public void Help()
    {
        var table = new Table().Border(TableBorder.Rounded).Title("Commands").AddColumn("Command").AddColumn("Action");
        foreach (var (command, description) in Commands)
        {
            table.AddRow(Markup.Escape(command), Markup.Escape(description));
        }

        console.Write(table);
    }

    public void Success(string message) => console.MarkupLineInterpolated($"[green]✅ {message}[/]");

    public void Info(string message) => console.MarkupLineInterpolated($"[blue]ℹ {message}[/]");

    public void Warning(string message) => console.MarkupLineInterpolated($"[yellow]⚠ {message}[/]");

    public void Error(string message) => console.MarkupLineInterpolated($"[red]❌ {message}[/]");

    public void SessionCreated(CreatedSession session) =>
        Success($"New session: {session.SessionId}" + (session.Model is null ? "" : $" (model {session.Model})"));

    public void SessionDetails(SessionDetails session)
    {
        var table = KeyValueTable("Session");
        table.AddRow("session_id", Markup.Escape(session.SessionId));
        table.AddRow("model", Markup.Escape(session.Model ?? ""));
        table.AddRow("message_count", Number(session.MessageCount));
        table.AddRow("user_messages", Number(session.UserMessages));
        table.AddRow("model_messages", Number(session.ModelMessages));
        table.AddRow("duration_seconds", Number(session.DurationSeconds));
        table.AddRow("created_at", Markup.Escape(session.CreatedAt ?? ""));
        console.Write(table);
    }

    public void Sessions(SessionList list, string? currentSessionId)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"Active sessions: {list.ActiveSessions}")
            .AddColumn("session_id").AddColumn("model").AddColumn("messages").AddColumn("minutes").AddColumn("created_at");
        foreach (var session in list.Sessions)
        {
            var id = Markup.Escape(session.SessionId);
            table.AddRow(
                session.SessionId == currentSessionId ? $"[bold]{id} (current)[/]" : id,
                Markup.Escape(session.Model ?? ""),
                Number(session.MessageCount),
                Number(session.DurationMinutes),
                Markup.Escape(session.CreatedAt ?? ""));
        }

        console.Write(table);
    }

    public void Report(string title, ServerReport report)
    {
        var table = KeyValueTable(title);
        foreach (var (key, value) in report.Fields)
        {
            table.AddRow(Markup.Escape(key), Markup.Escape(value));
        }

        console.Write(table);
    }

    public void ClientStatistics(ClientStatistics statistics, string transport)
    {
        var table = KeyValueTable("Client statistics");
        table.AddRow("transport", transport);
        table.AddRow("total_requests", Number(statistics.TotalRequests));
        table.AddRow("successful_requests", Number(statistics.SuccessfulRequests));
        table.AddRow("failed_requests", Number(statistics.FailedRequests));
        table.AddRow("cancelled_requests", Number(statistics.CancelledRequests));
        table.AddRow("average_response_time", Seconds(statistics.AverageResponseTime));
        table.AddRow("average_time_to_first_token", Seconds(statistics.AverageTimeToFirstToken));
        table.AddRow("total_tokens", Number(statistics.TotalTokens));
        table.AddRow("session_duration", Seconds(statistics.SessionDuration));
        console.Write(table);
    }

    private static Table KeyValueTable(string title) =>
        new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title)).AddColumn("Field").AddColumn("Value");

    private static string Number(double? value) => value?.ToString("0.###", CultureInfo.InvariantCulture) ?? "";

    private static string Seconds(TimeSpan? value) => value is { } time ? time.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) + " s" : "";
}
