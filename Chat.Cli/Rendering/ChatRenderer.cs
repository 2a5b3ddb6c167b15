using System.Globalization;
using Chat.Cli.Repl;
using Chat.Cli.Transports;
using Spectre.Console;

namespace Chat.Cli.Rendering;

/// <summary>
/// Everything the REPL and the subcommands print besides a reply, through one Spectre console. Times the server sends
/// in UTC (ISO 8601) are shown in <paramref name="timeZone"/> (default: the machine's local zone).
/// </summary>
public sealed class ChatRenderer(IAnsiConsole console, TimeZoneInfo? timeZone = null)
{
    private readonly TimeZoneInfo _timeZone = timeZone ?? TimeZoneInfo.Local;

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
        ("/strict [on|off]", "Show or set strict sessions: an unknown session is an error instead of being replaced"),
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

    /// <summary><c>/info</c>: readable labels, the time active as a duration, the creation time in local time.</summary>
    public void SessionDetails(SessionDetails session)
    {
        var table = KeyValueTable("Session");
        table.AddRow("Session", Markup.Escape(session.SessionId));
        table.AddRow("Model", Markup.Escape(session.Model ?? ""));
        table.AddRow("Messages", Number(session.MessageCount));
        table.AddRow("User messages", Number(session.UserMessages));
        table.AddRow("Model messages", Number(session.ModelMessages));
        table.AddRow("Active for", Duration(session.DurationSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null));
        table.AddRow("Created", LocalTime(session.CreatedAt));
        table.Caption(TimeZoneCaption());
        console.Write(table);
    }

    /// <summary>
    /// <c>/sessions</c>: the servers' <c>duration_minutes</c> is the time from a session's creation to its last
    /// activity, hence "Active for", as a duration; creation times in local time.
    /// </summary>
    public void Sessions(SessionList list, string? currentSessionId)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"Active sessions: {list.ActiveSessions}")
            .AddColumn("Session").AddColumn("Model").AddColumn(new TableColumn("Messages").RightAligned())
            .AddColumn(new TableColumn("Active for").RightAligned()).AddColumn("Created")
            .Caption(TimeZoneCaption());
        foreach (var session in list.Sessions)
        {
            var id = Markup.Escape(session.SessionId);
            table.AddRow(
                session.SessionId == currentSessionId ? $"[bold]{id} (current)[/]" : id,
                Markup.Escape(session.Model ?? ""),
                Number(session.MessageCount),
                Duration(session.DurationMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : null),
                LocalTime(session.CreatedAt));
        }

        console.Write(table);
    }

    /// <summary>"45 s", "12 min", "1 h 05 min", "2 d 3 h": as long as it needs to be, no longer.</summary>
    public static string Duration(TimeSpan? value) => value switch
    {
        null => "",
        { TotalSeconds: < 60 } time => $"{Math.Max(0, (int)time.TotalSeconds)} s",
        { TotalMinutes: < 60 } time => $"{(int)time.TotalMinutes} min",
        { TotalHours: < 24 } time => $"{(int)time.TotalHours} h {time.Minutes:00} min",
        { } time => $"{(int)time.TotalDays} d {time.Hours} h",
    };

    /// <summary>An ISO 8601 time from the server in this renderer's zone ("2026-01-01 02:00:00"); anything else as sent.</summary>
    public string LocalTime(string? serverTime)
    {
        if (string.IsNullOrWhiteSpace(serverTime))
        {
            return "";
        }

        return DateTimeOffset.TryParse(serverTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? TimeZoneInfo.ConvertTime(time, _timeZone).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)
            : Markup.Escape(serverTime);
    }

    private string TimeZoneCaption()
    {
        var offset = _timeZone.GetUtcOffset(DateTimeOffset.UtcNow);
        var sign = offset < TimeSpan.Zero ? "-" : "+";
        return $"Times are local (UTC{sign}{offset.Duration():hh\\:mm})";
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
