using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Chat.Transports.Shared.Errors;

/// <summary>
/// The one mapping of Chat.Llm.Service status codes to HTTP (docs/conventions.md), used by every HTTP transport for
/// refusals before a response has started. Details the LLM service wrote for users (INVALID_ARGUMENT, ABORTED,
/// RESOURCE_EXHAUSTED) pass through; infrastructure failures get fixed texts so no internal address or exception leaks.
/// </summary>
public static class LlmProblems
{
    public const string SessionNotFound = "Session not found";
    public const string MessageRequired = "Message is required";
    public const string ServiceUnavailable = "The chat service is unavailable, try again shortly";
    public const string DeadlineExceeded = "The model did not answer in time";
    public const string InternalError = "Internal server error";

    /// <summary>Retry-After for 429 when the LLM service does not say (its trailer <c>retry-after</c>, in seconds).</summary>
    public const int DefaultRetryAfterSeconds = 5;

    public static int ToHttpStatus(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange or StatusCode.FailedPrecondition => StatusCodes.Status400BadRequest,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.Aborted or StatusCode.AlreadyExists => StatusCodes.Status409Conflict,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.Cancelled => StatusCodes.Status499ClientClosedRequest,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The status code named by a <c>TurnError.code</c> ("RESOURCE_EXHAUSTED"), Unknown when unnamed.</summary>
    public static StatusCode ParseCode(string? code) =>
        Enum.TryParse<StatusCode>((code ?? "").Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var parsed)
            ? parsed
            : StatusCode.Unknown;

    /// <summary>The text a client sees for a status; <paramref name="serviceDetail"/> only where it was written for users.</summary>
    public static string UserDetail(StatusCode code, string? serviceDetail, string notFoundDetail = SessionNotFound) => code switch
    {
        StatusCode.NotFound => notFoundDetail,
        StatusCode.InvalidArgument or StatusCode.OutOfRange or StatusCode.FailedPrecondition or StatusCode.Aborted
            or StatusCode.AlreadyExists or StatusCode.ResourceExhausted or StatusCode.PermissionDenied
            or StatusCode.Unauthenticated when !string.IsNullOrWhiteSpace(serviceDetail) => serviceDetail!,
        StatusCode.Aborted or StatusCode.AlreadyExists => "A turn is already running on this session",
        StatusCode.ResourceExhausted => "Too many requests, try again later",
        StatusCode.InvalidArgument or StatusCode.OutOfRange or StatusCode.FailedPrecondition => "Invalid request",
        StatusCode.Unavailable => ServiceUnavailable,
        StatusCode.DeadlineExceeded => DeadlineExceeded,
        StatusCode.Cancelled => "The request was cancelled",
        StatusCode.Unauthenticated => "Authentication required",
        StatusCode.PermissionDenied => "Forbidden",
        _ => InternalError,
    };

    /// <summary>ProblemDetails for a call the LLM service refused; sets Retry-After on 429.</summary>
    public static ProblemHttpResult FromRpc(HttpContext context, RpcException exception, string notFoundDetail = SessionNotFound)
    {
        var code = exception.StatusCode;
        if (code == StatusCode.ResourceExhausted)
        {
            context.Response.Headers.RetryAfter = RetryAfterSeconds(exception).ToString(CultureInfo.InvariantCulture);
        }

        return Problem(ToHttpStatus(code), UserDetail(code, exception.Status.Detail, notFoundDetail), code);
    }

    /// <summary>ProblemDetails for a turn that failed before any of it was sent (REST, or a stream's first event).</summary>
    public static ProblemHttpResult FromTurnError(HttpContext context, string? code, string? message)
    {
        var status = ParseCode(code);
        if (status == StatusCode.ResourceExhausted)
        {
            context.Response.Headers.RetryAfter = DefaultRetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }

        return Problem(ToHttpStatus(status), UserDetail(status, message), status);
    }

    public static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status400BadRequest);

    private static ProblemHttpResult Problem(int status, string detail, StatusCode code) =>
        TypedResults.Problem(
            detail: detail,
            statusCode: status,
            extensions: new Dictionary<string, object?> { ["grpc_status"] = StatusName(code) });

    /// <summary>"RESOURCE_EXHAUSTED" for ResourceExhausted: the name chat.llm.v1 uses in TurnError.code.</summary>
    public static string StatusName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        _ => "UNKNOWN",
    };

    private static int RetryAfterSeconds(RpcException exception)
    {
        var value = exception.Trailers.GetValue("retry-after");
        return int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? seconds
            : DefaultRetryAfterSeconds;
    }
}
