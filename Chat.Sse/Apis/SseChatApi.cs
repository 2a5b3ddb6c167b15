using System.Diagnostics;
using Chat.Contracts.Llm.V1;
using Chat.Sse.Streaming;
using Chat.Transports.Shared.Errors;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Models;
using Grpc.Core;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Chat.Sse.Apis;

/// <summary>
/// SSE chat: the original's <c>POST /chat/stream</c>, and a resumable form for browsers' EventSource —
/// <c>POST /chat/turns</c> starts a turn that runs on in Chat.Llm.Service whoever listens, and
/// <c>GET /chat/turns/{turnId}/events</c> streams it, resuming after <c>Last-Event-ID</c> on any replica.
/// </summary>
public static class SseChatApi
{
    public const string TurnNotFound = "Turn not found";

    public static RouteGroupBuilder MapSseChatApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/chat").WithTags("Chat")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        group.MapPost("/stream", ChatStream)
            .WithSummary("Send a message; the reply streams back as server-sent events")
            .WithDescription(
                "Events (event: name, id: <turn_id>:<sequence>, data: the original's JSON object): session_info, status, " +
                "chunk (is_final=false per model delta, then an empty one with is_final=true), complete, or error. " +
                "The turn keeps running if the client leaves; resume with GET /chat/turns/{turn_id}/events and Last-Event-ID. " +
                "With X-Chat-Strict-Session: true (or ?strict_session=true) an unknown session_id is 404 (code " +
                "session_not_found) before any event, and nothing is created.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        group.MapPost("/turns", StartTurn)
            .WithSummary("Start a turn; stream it with GET on the returned events_url")
            .WithDescription("The strict-session flag works as on POST /chat/stream.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        group.MapGet("/turns/{turnId}/events", TurnEvents)
            .WithSummary("A turn's events; with Last-Event-ID (header or last_event_id query) only those after it")
            .WithDescription("204 when the client already has the turn's last event (EventSource then stops reconnecting).")
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapDelete("/turns/{turnId}", CancelTurn)
            .WithSummary("Stop a running turn");

        return group;
    }

    public static async Task<Results<SseTurnStream, ProblemHttpResult>> ChatStream(
        ChatRequest request,
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options)
    {
        var started = Stopwatch.GetTimestamp();
        if (!request.TryGetMessage(options.Value, out var message, out var problem))
        {
            return problem!;
        }

        var start = await StartAsync(context, llm, options.Value, request, message);
        if (start.Problem is not null)
        {
            return start.Problem;
        }

        return new SseTurnStream(start.Call!, start.Accepted!, start.Accepted!.Accepted, skipFrames: 0, started, start.Accepted!.Accepted.Epoch);
    }

    public static async Task<Results<Accepted<TurnStarted>, ProblemHttpResult>> StartTurn(
        ChatRequest request,
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options)
    {
        if (!request.TryGetMessage(options.Value, out var message, out var problem))
        {
            return problem!;
        }

        var start = await StartAsync(context, llm, options.Value, request, message);
        if (start.Problem is not null)
        {
            return start.Problem;
        }

        // The turn was started detached: leaving its stream here does not stop it.
        using var call = start.Call!;
        var accepted = start.Accepted!;
        var eventsUrl = $"turns/{Uri.EscapeDataString(accepted.TurnId)}/events";
        return TypedResults.Accepted(eventsUrl, new TurnStarted(
            accepted.TurnId,
            accepted.Accepted.SessionId,
            accepted.Accepted.SessionCreated,
            accepted.Accepted.Model,
            eventsUrl));
    }

    public static async Task<Results<SseTurnStream, NoContent, ProblemHttpResult>> TurnEvents(
        string turnId,
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventIdHeader,
        [FromQuery(Name = "last_event_id")] string? lastEventIdQuery)
    {
        var lastEventId = lastEventIdHeader ?? lastEventIdQuery;
        if (!SseEventId.TryParse(lastEventId, turnId, out var resumeAt))
        {
            return LlmProblems.BadRequest($"Last-Event-ID must be \"{turnId}:<sequence>@<epoch>\"");
        }

        var resuming = !string.IsNullOrWhiteSpace(lastEventId);
        var cancellationToken = context.RequestAborted;
        // The LLM service says first whether everything after the client's position follows, with the turn's session
        // (for session_info/complete/error) and epoch; then the events after it. A client that already has the last
        // event gets it again.
        var call = llm.ResumeTurn(
            new ResumeTurnRequest
            {
                TurnId = turnId,
                AfterSequence = resumeAt.AfterSequence,
                Epoch = resumeAt.Epoch ?? "",
                ReportStatus = true,
                Principal = context.GetChatPrincipal(),
            },
            options.Value.Turn(cancellationToken));
        try
        {
            if (!await call.ResponseStream.MoveNext(cancellationToken) || call.ResponseStream.Current.Resume is not { } status
                || !await call.ResponseStream.MoveNext(cancellationToken))
            {
                call.Dispose();
                return Expired(turnId);
            }

            var first = call.ResponseStream.Current;
            if (status.Recovered && first.Sequence <= resumeAt.AfterSequence)
            {
                // Nothing after the client's last event: the turn is over and it has all of it.
                call.Dispose();
                return TypedResults.NoContent();
            }

            if ((first.Accepted ?? status.Accepted) is not { } accepted)
            {
                call.Dispose();
                return Expired(turnId);
            }

            // Frames of a partly seen event are skipped only where the client's position holds.
            return new SseTurnStream(call, first, accepted, status.Recovered ? resumeAt.SkipFrames : 0, startedTimestamp: null, status.Epoch,
                resuming || !status.Recovered ? status : null);
        }
        catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound)
        {
            call.Dispose();
            return Expired(turnId);
        }
        catch (RpcException exception)
        {
            call.Dispose();
            return LlmProblems.FromRpc(context, exception, TurnNotFound);
        }
    }

    /// <summary>
    /// 404 for a turn whose buffer is gone (expired, or never there): the resume's answer in HTTP's idiom, with
    /// <c>recovered: false</c> and <c>reason: "expired"</c> as on every transport (docs/resume.md).
    /// </summary>
    private static ProblemHttpResult Expired(string turnId) => TypedResults.Problem(
        detail: TurnNotFound,
        statusCode: StatusCodes.Status404NotFound,
        extensions: new Dictionary<string, object?>
        {
            ["grpc_status"] = "NOT_FOUND",
            ["turn_id"] = turnId,
            ["recovered"] = false,
            ["reason"] = "expired",
        });

    public static async Task<Ok<TurnCancelled>> CancelTurn(
        string turnId,
        HttpContext context,
        LlmService.LlmServiceClient llm,
        IOptions<TransportOptions> options)
    {
        var response = await llm.CancelTurnAsync(
            new CancelTurnRequest { TurnId = turnId, Principal = context.GetChatPrincipal() },
            options.Value.Unary(context.RequestAborted));
        return TypedResults.Ok(new TurnCancelled(turnId, response.Cancelled));
    }

    /// <summary>Starts a detached turn and reads its accepted event, or the refusal as ProblemDetails.</summary>
    private static async Task<(AsyncServerStreamingCall<TurnEvent>? Call, TurnEvent? Accepted, ProblemHttpResult? Problem)> StartAsync(
        HttpContext context, LlmService.LlmServiceClient llm, TransportOptions options, ChatRequest request, string message)
    {
        var strict = StrictSession.IsRequested(context.Request);
        if (strict && StrictSession.CannotExist(request.SessionId))
        {
            return (null, null, StrictSession.NotFound(request.SessionId));
        }

        // Detached: the turn runs to its end in the LLM service even when this client goes, so it can be resumed.
        var turn = LlmCalls.NewTurn(message, request.SessionId, request.ModelId, context.GetChatPrincipal(), detach: true, strict);
        var call = llm.StreamTurn(turn, options.Turn(context.RequestAborted));
        try
        {
            if (!await call.ResponseStream.MoveNext(context.RequestAborted))
            {
                call.Dispose();
                return (null, null, LlmProblems.FromTurnError(context, "UNAVAILABLE", null));
            }
        }
        catch (RpcException exception)
        {
            call.Dispose();
            return (null, null, strict && exception.StatusCode == StatusCode.NotFound
                ? StrictSession.NotFound(request.SessionId)
                : LlmProblems.FromRpc(context, exception));
        }

        var first = call.ResponseStream.Current;
        if (first.KindCase != TurnEvent.KindOneofCase.Accepted)
        {
            call.Dispose();
            return (null, null, LlmProblems.FromTurnError(context, first.Error?.Code ?? "INTERNAL", first.Error?.Message));
        }

        return (call, first, null);
    }

}

/// <summary>
/// 202 body of <c>POST /chat/turns</c>. <c>events_url</c> is relative to the request URL (so it works behind any
/// path prefix); the Location header carries the same.
/// </summary>
public sealed record TurnStarted(string TurnId, string SessionId, bool IsNewSession, string Model, string EventsUrl);

public sealed record TurnCancelled(string TurnId, bool Cancelled);
