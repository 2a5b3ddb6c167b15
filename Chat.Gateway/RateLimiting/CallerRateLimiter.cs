using System.Globalization;
using System.Threading.RateLimiting;
using Chat.Gateway.Proxy;
using Microsoft.Extensions.Options;

namespace Chat.Gateway.RateLimiting;

/// <summary>
/// A token bucket per caller: the API key's principal, or the client address for anonymous callers. Every proxied
/// HTTP request, gRPC call and WebSocket upgrade takes one token. Responses carry X-RateLimit-Limit and
/// X-RateLimit-Remaining; a refusal is 429 + Retry-After (ProblemDetails), or RESOURCE_EXHAUSTED for gRPC.
/// </summary>
public sealed class CallerRateLimiter : IDisposable
{
    public const string LimitHeader = "X-RateLimit-Limit";
    public const string RemainingHeader = "X-RateLimit-Remaining";

    private readonly RateLimitOptions _options;
    private readonly PartitionedRateLimiter<string>? _limiter;
    private readonly ILogger<CallerRateLimiter> _logger;

    public CallerRateLimiter(IOptions<GatewayOptions> options, ILogger<CallerRateLimiter> logger)
    {
        _options = options.Value.RateLimit;
        _logger = logger;
        if (_options.Enabled)
        {
            var bucket = new TokenBucketRateLimiterOptions
            {
                TokenLimit = _options.TokenLimit,
                TokensPerPeriod = _options.TokensPerPeriod,
                ReplenishmentPeriod = _options.ReplenishmentPeriod,
                QueueLimit = 0,
                AutoReplenishment = true,
            };
            _limiter = PartitionedRateLimiter.Create<string, string>(caller => RateLimitPartition.GetTokenBucketLimiter(caller, _ => bucket));
        }
    }

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        if (_limiter is null)
        {
            await next();
            return;
        }

        var caller = CallerPartition.Of(context);
        using var lease = _limiter.AttemptAcquire(caller);
        var remaining = _limiter.GetStatistics(caller)?.CurrentAvailablePermits ?? 0;
        context.Response.Headers[LimitHeader] = _options.TokenLimit.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers[RemainingHeader] = remaining.ToString(CultureInfo.InvariantCulture);

        if (lease.IsAcquired)
        {
            await next();
            return;
        }

        GatewayLog.RateLimited(_logger, caller, context.Request.Path);
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : _options.ReplenishmentPeriod;
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        await GatewayRejection.WriteAsync(context, StatusCodes.Status429TooManyRequests, GrpcStatus.ResourceExhausted,
            "Too many requests", $"Rate limit of {_options.TokenLimit} requests reached; retry after {retryAfter.TotalSeconds:0.#} s.");
    }

    public void Dispose() => _limiter?.Dispose();
}
