using System.Globalization;
using Chat.Gateway.RateLimiting;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Chat.Gateway.Proxy;

/// <summary>
/// The outermost step of the proxy pipeline: when YARP could not forward a request — no available destination, the
/// chosen replica refused the connection or died — it leaves a status code and an empty body (and an
/// <see cref="IForwarderErrorFeature"/>). This step answers in the caller's protocol instead: 503 ProblemDetails with
/// Retry-After for HTTP (REST, NDJSON, SSE, and a refused WebSocket upgrade), UNAVAILABLE in a trailers-only response
/// for gRPC and gRPC-Web. A stream whose replica dies after it started cannot change its status: gRPC and binary
/// gRPC-Web calls still end with UNAVAILABLE when the client has whole messages (<see cref="GrpcResponseTracker"/>);
/// HTTP streams and WebSockets are cut, so a client never takes a truncated stream for a complete one.
/// </summary>
public sealed class ProxyFailureResponder(IOptions<GatewayOptions> options, ILogger<ProxyFailureResponder> logger)
{
    public const string UnavailableTitle = "Service unavailable";

    private readonly string _retryAfterSeconds =
        Math.Max(1, (int)Math.Ceiling(options.Value.Unavailable.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var grpc = GrpcResponseTracker.Install(context);
        await next();

        if (context.Features.Get<IForwarderErrorFeature>() is not { Error: not ForwarderError.None } failure)
        {
            return;
        }

        var service = context.Features.Get<IReverseProxyFeature>()?.Cluster.Config.ClusterId ?? "requested";
        if (context.Response.HasStarted)
        {
            await EndStartedResponseAsync(context, grpc, failure.Error, service);
            return;
        }

        // A reset held back for a response that never started (YARP sets a status instead): nothing to do for it.
        if (context.RequestAborted.IsCancellationRequested || Classify(failure.Error, service, _retryAfterSeconds) is not { } answer)
        {
            return;
        }

        GatewayLog.DestinationFailed(logger, context.Request.Method, context.Request.Path, service, failure.Error, answer.HttpStatus);
        if (answer.RetryAfter)
        {
            context.Response.Headers.RetryAfter = _retryAfterSeconds;
        }

        var detail = StreamRequests.IsWebSocketUpgrade(context.Request) ? $"WebSocket upgrade refused: {answer.Detail}" : answer.Detail;
        await GatewayRejection.WriteAsync(context, answer.HttpStatus, answer.GrpcStatus, answer.Title, detail);
    }

    /// <summary>
    /// The status line has gone out. A gRPC call ends with UNAVAILABLE when that can still be said cleanly; anything
    /// else is reset or aborted as YARP asked (the HTTP/1.1 connection closes mid-body, the HTTP/2 stream is reset).
    /// </summary>
    private async Task EndStartedResponseAsync(HttpContext context, GrpcResponseTracker? grpc, ForwarderError error, string service)
    {
        if (grpc?.ResetRequested is null)
        {
            return;
        }

        var destinationLost = error is ForwarderError.ResponseBodyDestination or ForwarderError.RequestBodyDestination;
        if (destinationLost && grpc.StatusSent && grpc.AtMessageBoundary)
        {
            // gRPC-Web: the replica's own status frame reached the client whole; the call is complete.
            return;
        }

        var isGrpcResponse = context.Response.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;
        if (destinationLost && isGrpcResponse && grpc.AtMessageBoundary && !context.RequestAborted.IsCancellationRequested)
        {
            try
            {
                GatewayLog.DestinationLostMidStream(logger, context.Request.Path, service, error);
                await grpc.WriteStatusAsync(GrpcStatus.Unavailable, $"The {service} service went away during the call; retry.", _retryAfterSeconds);
                return;
            }
            catch (Exception exception) when (exception is IOException or OperationCanceledException or InvalidOperationException)
            {
                // The client left meanwhile: fall through to the reset.
            }
        }

        grpc.ResetNow();
    }

    /// <summary>One line per YARP error: how the gateway answers while nothing has been sent yet; null: leave YARP's answer.</summary>
    internal static ProxyFailureAnswer? Classify(ForwarderError error, string service, string retryAfterSeconds) => error switch
    {
        ForwarderError.NoAvailableDestinations => new(StatusCodes.Status503ServiceUnavailable, GrpcStatus.Unavailable, UnavailableTitle,
            $"No healthy instance of the {service} service is available; retry in {retryAfterSeconds} s.", RetryAfter: true),
        ForwarderError.Request or ForwarderError.RequestBodyDestination or ForwarderError.ResponseBodyDestination
            or ForwarderError.UpgradeRequestDestination or ForwarderError.UpgradeResponseDestination =>
            new(StatusCodes.Status503ServiceUnavailable, GrpcStatus.Unavailable, UnavailableTitle,
                $"The {service} service could not be reached; retry in {retryAfterSeconds} s.", RetryAfter: true),
        ForwarderError.RequestTimedOut => new(StatusCodes.Status504GatewayTimeout, GrpcStatus.Unavailable, "Gateway timeout",
            $"The {service} service did not answer in time.", RetryAfter: false),
        ForwarderError.ResponseHeaders => new(StatusCodes.Status502BadGateway, GrpcStatus.Unavailable, "Bad gateway",
            $"The {service} service sent an answer the gateway could not pass on.", RetryAfter: false),
        ForwarderError.RequestCreation => new(StatusCodes.Status500InternalServerError, GrpcStatus.Internal, "Gateway error",
            "The gateway could not forward the request.", RetryAfter: false),
        // The client's side failed (its body broke, it left, it timed out): YARP's 400/408 stand; nobody may be listening.
        _ => null,
    };
}

/// <summary>What the gateway answers for one kind of forwarding failure, in HTTP and in gRPC.</summary>
internal sealed record ProxyFailureAnswer(int HttpStatus, GrpcStatus GrpcStatus, string Title, string Detail, bool RetryAfter);
