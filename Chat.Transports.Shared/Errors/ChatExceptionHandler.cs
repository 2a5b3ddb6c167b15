using System.Text.Json;
using Chat.Transports.Shared.Hosting;
using Grpc.Core;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Hosting;

namespace Chat.Transports.Shared.Errors;

/// <summary>
/// Turns what handlers let escape into ProblemDetails: a refusal from Chat.Llm.Service (its status mapped as in
/// docs/conventions.md) and a body that is not the JSON a route expects (400, as the original's FastAPI did with 422).
/// </summary>
internal sealed class ChatExceptionHandler(IProblemDetailsService problemDetails, TransportRuntime runtime) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (context.Response.HasStarted)
        {
            return false;
        }

        ProblemDetails? problem = exception switch
        {
            RpcException rpc => ToProblem(context, rpc),
            BadHttpRequestException { InnerException: JsonException } => new ProblemDetails
            {
                Status = StatusCodes.Status400BadRequest,
                Detail = "Malformed JSON body",
            },
            BadHttpRequestException bad => new ProblemDetails
            {
                Status = bad.StatusCode,
                Detail = bad.StatusCode == StatusCodes.Status400BadRequest ? "Invalid request body" : null,
            },
            _ => null,
        };

        if (problem is null)
        {
            return false;
        }

        context.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        // The exception handler cleared the response headers, the replica's name with them.
        context.Response.Headers[ServiceInstance.ServedByHeader] = runtime.Instance;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = problem,
            Exception = exception,
        });
    }

    private static ProblemDetails ToProblem(HttpContext context, RpcException exception)
    {
        // Same mapping (and Retry-After) as the handlers that catch refusals themselves.
        var result = LlmProblems.FromRpc(context, exception);
        return result.ProblemDetails;
    }
}
