using System.Diagnostics;
using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Errors;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Models;
using Grpc.Core;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Chat.Rest.Apis;

/// <summary><c>POST /chat</c>: one turn, answered whole once the model has finished.</summary>
public static class RestChatApi
{
    public static RouteGroupBuilder MapRestChatApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/chat").WithTags("Chat");

        group.MapPost("/", Chat)
            .WithSummary("Send a message; the reply comes back whole")
            .WithDescription(
                "No or an unknown session_id starts a new session (is_new_session tells). With X-Chat-Strict-Session: true " +
                "(or ?strict_session=true) an unknown session_id is 404 (code session_not_found) and nothing is created.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        return group;
    }

    public static async Task<Results<Ok<ChatResponse>, ProblemHttpResult>> Chat(
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
        TurnAccepted? accepted = null;
        try
        {
            using var call = llm.StreamTurn(turn, options.Value.Turn(context.RequestAborted));
            await foreach (var turnEvent in call.ResponseStream.ReadAllAsync(context.RequestAborted))
            {
                switch (turnEvent.KindCase)
                {
                    case TurnEvent.KindOneofCase.Accepted:
                        accepted = turnEvent.Accepted;
                        break;
                    case TurnEvent.KindOneofCase.Error:
                        await call.EndAfterLastEventAsync(context.RequestAborted);
                        return LlmProblems.FromTurnError(context, turnEvent.Error.Code, turnEvent.Error.Message);
                    case TurnEvent.KindOneofCase.Completed when accepted is not null:
                        await call.EndAfterLastEventAsync(context.RequestAborted);
                        return TypedResults.Ok(ToResponse(turnEvent.TurnId, accepted, turnEvent.Completed, started));
                }
            }
        }
        catch (RpcException exception) when (strict && exception.StatusCode == StatusCode.NotFound)
        {
            return StrictSession.NotFound(request.SessionId);
        }
        catch (RpcException exception)
        {
            return LlmProblems.FromRpc(context, exception);
        }

        // The stream ended without a completion: the LLM service went away mid-turn.
        return LlmProblems.FromTurnError(context, "UNAVAILABLE", null);
    }

    private static ChatResponse ToResponse(string turnId, TurnAccepted accepted, TurnCompleted completed, long started) => new(
        Response: completed.FullText,
        SessionId: accepted.SessionId,
        ProcessingTime: Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 3),
        Model: accepted.Model,
        Timestamp: DateTimeOffset.UtcNow,
        MessageCount: completed.MessageCount,
        IsNewSession: accepted.SessionCreated)
    {
        TurnId = turnId,
        FinishReason = completed.FinishReason,
        Usage = new ChatUsage(completed.Usage?.InputTokens ?? 0, completed.Usage?.OutputTokens ?? 0, completed.Usage?.TotalTokens ?? 0),
        Timings = new ChatTimings(Math.Round(completed.TimeToFirstTokenSeconds, 3), Math.Round(completed.TotalSeconds, 3)),
        Provider = accepted.Provider,
    };
}
