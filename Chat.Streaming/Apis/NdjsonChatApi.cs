using System.Diagnostics;
using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Errors;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Models;
using Grpc.Core;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Chat.Streaming.Apis;

/// <summary><c>POST /chat/stream</c>: one turn as NDJSON, each model delta written and flushed as it arrives.</summary>
public static class NdjsonChatApi
{
    public static RouteGroupBuilder MapNdjsonChatApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/chat").WithTags("Chat");

        group.MapPost("/stream", ChatStream)
            .WithSummary("Send a message; the reply streams back as NDJSON")
            .WithDescription(
                "Lines in order: session_info, status, chunk (is_final=false, one per model delta, sent the moment it " +
                "arrives), a last empty chunk with is_final=true, complete (with usage and timings). A failure after " +
                "the stream started is an error line, then the stream ends. Refusals before it starts are ProblemDetails. " +
                "With X-Chat-Strict-Session: true (or ?strict_session=true) an unknown session_id is 404 (code " +
                "session_not_found) before any line, and nothing is created.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        return group;
    }

    public static async Task<Results<NdjsonTurnStream, ProblemHttpResult>> ChatStream(
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

        var strict = StrictSession.IsRequested(context.Request);
        if (strict && StrictSession.CannotExist(request.SessionId))
        {
            return StrictSession.NotFound(request.SessionId);
        }

        var turn = LlmCalls.NewTurn(message, request.SessionId, request.ModelId, context.GetChatPrincipal(), detach: false, strict);
        var call = llm.StreamTurn(turn, options.Value.Turn(context.RequestAborted));
        try
        {
            // Refusals (busy session, invalid message, LLM service down) come before the first event: they are
            // answered with a status code while the response has not started.
            if (!await call.ResponseStream.MoveNext(context.RequestAborted))
            {
                call.Dispose();
                return LlmProblems.FromTurnError(context, "UNAVAILABLE", null);
            }
        }
        catch (RpcException exception)
        {
            call.Dispose();
            return strict && exception.StatusCode == StatusCode.NotFound
                ? StrictSession.NotFound(request.SessionId)
                : LlmProblems.FromRpc(context, exception);
        }

        var first = call.ResponseStream.Current;
        if (first.KindCase != TurnEvent.KindOneofCase.Accepted)
        {
            call.Dispose();
            return LlmProblems.FromTurnError(context, first.Error?.Code ?? "INTERNAL", first.Error?.Message);
        }

        return new NdjsonTurnStream(call, first, started);
    }
}
