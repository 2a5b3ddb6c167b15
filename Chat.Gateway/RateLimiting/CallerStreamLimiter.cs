using System.Globalization;
using System.Threading.RateLimiting;
using Chat.Gateway.Proxy;
using Microsoft.Extensions.Options;

namespace Chat.Gateway.RateLimiting;

/// <summary>
/// At most <see cref="LimitsOptions.MaxConcurrentStreamsPerClient"/> streams open per caller (the same partition as
/// the rate limit): a concurrency limiter per caller whose permit is held from admission until the proxied response
/// has ended (the stream closed, the socket closed, the call finished or the client left). Over the cap: 429
/// ProblemDetails with Retry-After; a WebSocket upgrade gets that 429 instead of 101; gRPC and gRPC-Web get
/// RESOURCE_EXHAUSTED with a retry-after header. Other requests are not counted.
/// </summary>
public sealed class CallerStreamLimiter : IDisposable
{
    private readonly LimitsOptions _options;
    private readonly PartitionedRateLimiter<HttpContext>? _limiter;
    private readonly GatewayTelemetry _telemetry;
    private readonly ILogger<CallerStreamLimiter> _logger;
    private readonly string _retryAfterSeconds;

    public CallerStreamLimiter(IOptions<GatewayOptions> options, GatewayTelemetry telemetry, ILogger<CallerStreamLimiter> logger)
    {
        _options = options.Value.Limits;
        _telemetry = telemetry;
        _logger = logger;
        _retryAfterSeconds = ((int)Math.Ceiling(_options.StreamRetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        if (_options.Enabled)
        {
            // No queue: a stream waiting for another to end would hang the client for an unknowable time.
            // Idle partitions (no stream open) are dropped by the limiter after a while, so anonymous addresses do not pile up.
            _limiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                var caller = CallerPartition.Of(context);
                var cap = CapFor(context);
                return cap > 0
                    ? RateLimitPartition.GetConcurrencyLimiter(caller, _ => new ConcurrencyLimiterOptions { PermitLimit = cap, QueueLimit = 0 })
                    : RateLimitPartition.GetNoLimiter(caller);
            });
        }
    }

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        if (_limiter is null || StreamRequests.ProtocolOf(context.Request) is not { } protocol)
        {
            await next();
            return;
        }

        using var lease = _limiter.AttemptAcquire(context);
        if (!lease.IsAcquired)
        {
            var cap = CapFor(context);
            _telemetry.StreamRefused(protocol);
            GatewayLog.StreamCapReached(_logger, protocol, context.Request.Path, CallerPartition.Of(context), cap);
            context.Response.Headers.RetryAfter = _retryAfterSeconds;
            await GatewayRejection.WriteAsync(context, StatusCodes.Status429TooManyRequests, GrpcStatus.ResourceExhausted,
                "Too many streams", $"At most {cap} concurrent streams per client; retry after one has ended (in about {_retryAfterSeconds} s).");
            return;
        }

        // YARP's forwarder returns once the proxied exchange is over, upgraded sockets and gRPC streams included,
        // so the permit is held exactly as long as the stream is open.
        _telemetry.StreamOpened();
        try
        {
            await next();
        }
        finally
        {
            _telemetry.StreamClosed();
        }
    }

    private int CapFor(HttpContext context) =>
        CallerPartition.PrincipalOf(context) is { } principal && _options.MaxConcurrentStreamsByPrincipal.TryGetValue(principal, out var own)
            ? own
            : _options.MaxConcurrentStreamsPerClient;

    public void Dispose() => _limiter?.Dispose();
}
