namespace Chat.Gateway.Proxy;

/// <summary>The gRPC status codes the gateway itself answers with (the gateway links no gRPC library).</summary>
public enum GrpcStatus
{
    ResourceExhausted = 8,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

/// <summary>
/// A refusal in the caller's own protocol: a gRPC status (trailers-only response, HTTP 200) for gRPC and gRPC-Web
/// calls, ProblemDetails for everything else (a refused WebSocket upgrade is such a plain HTTP response).
/// </summary>
public static class GatewayRejection
{
    public static bool IsGrpc(HttpRequest request) =>
        request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>gRPC-Web (binary or text): its status goes in a trailer frame of the body once the response has started.</summary>
    public static bool IsGrpcWeb(HttpRequest request) =>
        request.ContentType?.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase) == true;

    public static Task WriteAsync(HttpContext context, int httpStatus, GrpcStatus grpcStatus, string title, string detail)
    {
        var response = context.Response;
        if (IsGrpc(context.Request))
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = context.Request.ContentType;
            response.Headers["grpc-status"] = ((int)grpcStatus).ToString(System.Globalization.CultureInfo.InvariantCulture);
            response.Headers["grpc-message"] = Uri.EscapeDataString(detail);
            return Task.CompletedTask;
        }

        return TypedResults.Problem(detail: detail, statusCode: httpStatus, title: title).ExecuteAsync(context);
    }
}
