using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Chat.Dashboard.Hosting;
using Chat.Dashboard.Resources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using System.Text.Json;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Chat.Dashboard.Api;

/// <summary>The orchestrator's view, as the UI reads it: resources, console logs (live over SSE) and commands.</summary>
public static class ResourcesApi
{
    private static readonly string[] Commands = ["restart", "stop", "start"];

    public static RouteGroupBuilder MapResourcesApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/resources");
        group.MapGet("/", (IResourceSource resources) =>
            TypedResults.Ok(resources.GetResources()));
        group.MapGet("/{replica}/console", GetConsole);
        group.MapGet("/{replica}/console/stream", StreamConsole);
        group.MapPost("/{replica}/commands/{command}", ExecuteCommand);
        return group;
    }

    private static Results<Ok<IReadOnlyList<ConsoleLogLine>>, NotFound> GetConsole(string replica, IResourceSource resources, DashboardOptions options, int? max)
    {
        if (!Exists(resources, replica))
        {
            return TypedResults.NotFound();
        }

        return TypedResults.Ok(resources.GetConsoleLogs(replica, Math.Clamp(max ?? options.MaxConsoleLogCount, 1, options.MaxConsoleLogCount)));
    }

    private static async Task<Results<EmptyHttpResult, NotFound>> StreamConsole(
        string replica, IResourceSource resources, long? after, HttpContext context, IOptions<JsonOptions> json)
    {
        if (!Exists(resources, replica))
        {
            return TypedResults.NotFound();
        }

        // EventSource resends the last id it saw when it reconnects; that is where the stream picks up.
        var resumeFrom = long.TryParse(context.Request.Headers["Last-Event-ID"], out var lastEventId) ? lastEventId : after ?? 0;
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache,no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        // Headers go out now, not with the first line: the page shows "live" even for a quiet replica.
        await response.Body.FlushAsync(context.RequestAborted);
        var serializer = json.Value.SerializerOptions;
        try
        {
            await SseFormatter.WriteAsync(
                Lines(resources, replica, resumeFrom, context.RequestAborted),
                response.Body,
                (item, buffer) =>
                {
                    using var writer = new Utf8JsonWriter(buffer);
                    JsonSerializer.Serialize(writer, item.Data, serializer);
                },
                context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The browser navigated away.
        }

        return TypedResults.Empty;
    }

    private static async IAsyncEnumerable<SseItem<ConsoleLogLine>> Lines(
        IResourceSource resources, string replica, long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var line in resources.WatchConsoleLogs(replica, after, cancellationToken))
        {
            yield return new SseItem<ConsoleLogLine>(line, "line") { EventId = line.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        }
    }

    private static async Task<Results<Ok<CommandResult>, NotFound, ProblemHttpResult>> ExecuteCommand(
        string replica, string command, IResourceSource resources, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!Commands.Contains(command, StringComparer.Ordinal))
        {
            return TypedResults.Problem($"Unknown command '{command}'; one of: {string.Join(", ", Commands)}.", statusCode: StatusCodes.Status400BadRequest);
        }

        try
        {
            return await resources.ExecuteCommandAsync(replica, command, cancellationToken)
                ? TypedResults.Ok(new CommandResult(replica, command, Accepted: true))
                : TypedResults.NotFound();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            DashboardLog.CommandFailed(loggers.CreateLogger(typeof(ResourcesApi).FullName!), command, replica, exception);
            return TypedResults.Problem($"{command} on {replica} failed: {exception.Message}", statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    private static bool Exists(IResourceSource resources, string replica) =>
        resources.GetResources().Any(r => string.Equals(r.Name, replica, StringComparison.Ordinal));
}

public sealed record CommandResult(string Replica, string Command, bool Accepted);
