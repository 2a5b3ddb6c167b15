using System.Globalization;
using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Errors;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Models;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Chat.Transports.Shared.Apis;

/// <summary>
/// The original's session routes, shared by every HTTP transport. Sessions live in Chat.Llm.Service, so a session
/// made through one transport is continued through any other.
/// </summary>
public static class SessionsApi
{
    public const int DefaultHistoryLimit = 50;
    public const int MaxHistoryLimit = 500;

    public static RouteGroupBuilder MapChatSessionsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/sessions").WithTags("Sessions");

        group.MapPost("/new", CreateSession)
            .WithSummary("Create a chat session")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        group.MapGet("/", ListSessions).WithSummary("List the caller's sessions, newest first");
        group.MapGet("/{sessionId}", GetSession).WithSummary("Describe one session");
        group.MapDelete("/{sessionId}", DeleteSession).WithSummary("Delete a session and its history");
        group.MapPost("/{sessionId}/clear", ClearSession).WithSummary("Clear a session's history, keeping the session");
        group.MapGet("/{sessionId}/history", GetHistory)
            .WithSummary("Read a session's conversation, a page at a time")
            .WithDescription($"Oldest first. `limit` (1–{MaxHistoryLimit}, default {DefaultHistoryLimit}) messages ending just "
                + "before index `before` (default: the newest). `next_before` is the `before` of the previous page.");

        return group;
    }

    public static async Task<Ok<NewSessionResponse>> CreateSession(
        [FromBody(EmptyBodyBehavior = Microsoft.AspNetCore.Mvc.ModelBinding.EmptyBodyBehavior.Allow)] NewSessionRequest? request,
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options)
    {
        var session = await llm.CreateSessionAsync(
            new CreateSessionRequest
            {
                ModelId = request?.ModelId ?? "",
                SystemInstruction = request?.SystemInstruction ?? "",
                Principal = context.GetChatPrincipal(),
            },
            options.Value.Unary(context.RequestAborted));

        return TypedResults.Ok(new NewSessionResponse(session.Id, session.Model, DateTimeOffset.UtcNow) { Provider = session.Provider });
    }

    public static async Task<Ok<SessionListResponse>> ListSessions(
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options,
        [FromQuery(Name = "page_size")] int? pageSize,
        [FromQuery(Name = "page_token")] string? pageToken)
    {
        var response = await llm.ListSessionsAsync(
            new ListSessionsRequest
            {
                PageSize = pageSize ?? 0,
                PageToken = pageToken ?? "",
                Principal = context.GetChatPrincipal(),
            },
            options.Value.Unary(context.RequestAborted));

        var sessions = response.Sessions
            .Select(s => new SessionSummary(
                s.Id,
                s.Model,
                s.MessageCount,
                Math.Round(s.AgeSeconds / 60, 2),
                s.CreatedAt.ToOffset(),
                s.UpdatedAt.ToOffset(s.CreatedAt.ToOffset()))
            {
                Title = string.IsNullOrEmpty(s.Title) ? null : s.Title,
            })
            .ToList();

        return TypedResults.Ok(new SessionListResponse(Math.Max(response.Total, sessions.Count), sessions)
        {
            NextPageToken = string.IsNullOrEmpty(response.NextPageToken) ? null : response.NextPageToken,
        });
    }

    public static async Task<Results<Ok<SessionInfoResponse>, ProblemHttpResult>> GetSession(
        string sessionId,
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options)
    {
        try
        {
            var session = await llm.GetSessionAsync(
                new GetSessionRequest { SessionId = sessionId, Principal = context.GetChatPrincipal() },
                options.Value.Unary(context.RequestAborted));
            return TypedResults.Ok(ToInfo(session));
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
        {
            // A malformed id cannot name a session: the original answered 404 for any id it did not know.
            return NotFound(context);
        }
    }

    public static async Task<Results<Ok<MessageResponse>, ProblemHttpResult>> DeleteSession(
        string sessionId,
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options)
    {
        try
        {
            var response = await llm.DeleteSessionAsync(
                new DeleteSessionRequest { SessionId = sessionId, Principal = context.GetChatPrincipal() },
                options.Value.Unary(context.RequestAborted));
            return response.Deleted
                ? TypedResults.Ok(new MessageResponse($"Session {sessionId} deleted successfully"))
                : NotFound(context);
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
        {
            return NotFound(context);
        }
    }

    public static async Task<Results<Ok<MessageResponse>, ProblemHttpResult>> ClearSession(
        string sessionId,
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options)
    {
        try
        {
            await llm.ClearSessionAsync(
                new ClearSessionRequest { SessionId = sessionId, Principal = context.GetChatPrincipal() },
                options.Value.Unary(context.RequestAborted));
            return TypedResults.Ok(new MessageResponse($"Session {sessionId} history cleared successfully"));
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
        {
            return NotFound(context);
        }
    }

    public static async Task<Results<Ok<SessionHistoryResponse>, ProblemHttpResult>> GetHistory(
        string sessionId,
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options,
        [FromQuery(Name = "limit")] string? limit,
        [FromQuery(Name = "before")] string? before)
    {
        // Parsed here, not bound as int?, so a bad value gets a ProblemDetails that names the parameter.
        var pageSize = DefaultHistoryLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize)
            || pageSize is < 1 or > MaxHistoryLimit))
        {
            return LlmProblems.BadRequest($"limit must be a whole number from 1 to {MaxHistoryLimit}");
        }

        int? end = null;
        if (before is not null)
        {
            if (!int.TryParse(before, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                return LlmProblems.BadRequest("before must be a message index (a whole number, 0 or more)");
            }

            end = index;
        }

        try
        {
            var request = new GetHistoryRequest { SessionId = sessionId, Principal = context.GetChatPrincipal(), Limit = pageSize };
            if (end is { } endIndex)
            {
                request.Before = endIndex;
            }

            var page = await llm.GetHistoryAsync(request, options.Value.Unary(context.RequestAborted));
            var messages = page.Messages
                .Select((m, i) => new HistoryEntry(
                    page.FirstIndex + i, m.Role, m.Text, m.At.ToOffset(), string.IsNullOrEmpty(m.TurnId) ? null : m.TurnId))
                .ToList();
            var hasMore = page.FirstIndex > 0;
            return TypedResults.Ok(new SessionHistoryResponse(sessionId, page.Total, messages, hasMore, hasMore ? page.FirstIndex : null));
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
        {
            return NotFound(context);
        }
    }


    /// <summary>The original's durations are the session's age (now − created), rounded to 2 decimals as it did.</summary>
    public static SessionInfoResponse ToInfo(Session session) => new(
        session.Id,
        session.Model,
        session.MessageCount,
        Math.Round(session.AgeSeconds, 2),
        session.UserMessages,
        session.ModelMessages,
        session.CreatedAt.ToOffset())
    {
        LastActivity = session.UpdatedAt?.ToDateTimeOffset(),
        Provider = session.Provider,
    };

    private static ProblemHttpResult NotFound(HttpContext context) =>
        LlmProblems.FromRpc(context, new RpcException(new Status(StatusCode.NotFound, LlmProblems.SessionNotFound)));
}
