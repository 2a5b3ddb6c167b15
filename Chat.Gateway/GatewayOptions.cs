using System.ComponentModel.DataAnnotations;

namespace Chat.Gateway;

/// <summary>
/// Section <c>Gateway</c>: who may call, how often, how many streams at once, and from which web origins. Keys, rate
/// limits and CORS are off by default; the concurrent-stream cap is on (<see cref="LimitsOptions"/>).
/// </summary>
public sealed class GatewayOptions : IValidatableObject
{
    public const string SectionName = "Gateway";

    /// <summary>
    /// Key id → key. The id is the caller's principal (sent on as X-Chat-Principal). Store keys as SHA-256 hashes
    /// (<c>Gateway__ApiKeys__alice__Sha256=&lt;hex&gt;</c>) or, from a secret store, in clear (<c>…__Key=…</c>).
    /// No keys: the gateway is open and every caller anonymous.
    /// </summary>
    public Dictionary<string, ApiKeyOptions> ApiKeys { get; set; } = new(StringComparer.Ordinal);

    public RateLimitOptions RateLimit { get; set; } = new();

    public CorsOriginsOptions Cors { get; set; } = new();

    public LimitsOptions Limits { get; set; } = new();

    public UnavailableOptions Unavailable { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var rateLimitResults = new List<ValidationResult>();
        Validator.TryValidateObject(RateLimit, new ValidationContext(RateLimit), rateLimitResults, validateAllProperties: true);
        foreach (var result in rateLimitResults)
        {
            yield return new ValidationResult($"Gateway:RateLimit: {result.ErrorMessage}", result.MemberNames);
        }

        if (RateLimit.ReplenishmentPeriod <= TimeSpan.Zero)
        {
            yield return new ValidationResult("Gateway:RateLimit:ReplenishmentPeriod must be positive.", [nameof(RateLimit)]);
        }

        var limitsResults = new List<ValidationResult>();
        Validator.TryValidateObject(Limits, new ValidationContext(Limits), limitsResults, validateAllProperties: true);
        foreach (var result in limitsResults)
        {
            yield return new ValidationResult($"Gateway:Limits: {result.ErrorMessage}", result.MemberNames);
        }

        if (Limits.StreamRetryAfter < TimeSpan.FromSeconds(1) || Limits.StreamRetryAfter > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult("Gateway:Limits:StreamRetryAfter must be between 1 second and 1 hour.", [nameof(Limits)]);
        }

        if (Unavailable.RetryAfter < TimeSpan.FromSeconds(1) || Unavailable.RetryAfter > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult("Gateway:Unavailable:RetryAfter must be between 1 second and 1 hour.", [nameof(Unavailable)]);
        }

        foreach (var (id, cap) in Limits.MaxConcurrentStreamsByPrincipal)
        {
            if (cap < 0)
            {
                yield return new ValidationResult($"Gateway:Limits:MaxConcurrentStreamsByPrincipal:{id} must be 0 (no cap) or more.", [nameof(Limits)]);
            }

            // An override for a key that does not exist is a typo that would silently leave the default in force.
            if (!ApiKeys.ContainsKey(id))
            {
                yield return new ValidationResult($"Gateway:Limits:MaxConcurrentStreamsByPrincipal:{id} names no configured API key.", [nameof(Limits)]);
            }
        }

        foreach (var (id, key) in ApiKeys)
        {
            var hasHash = !string.IsNullOrEmpty(key.Sha256);
            var hasKey = !string.IsNullOrEmpty(key.Key);
            if (hasHash == hasKey)
            {
                yield return new ValidationResult($"Gateway:ApiKeys:{id} needs exactly one of Sha256 or Key.", [nameof(ApiKeys)]);
            }
            else if (hasHash && (key.Sha256!.Length != 64 || !key.Sha256.All(Uri.IsHexDigit)))
            {
                yield return new ValidationResult($"Gateway:ApiKeys:{id}:Sha256 must be 64 hex digits (SHA-256 of the key).", [nameof(ApiKeys)]);
            }
        }
    }
}

public sealed class ApiKeyOptions
{
    /// <summary>Hex SHA-256 of the key (preferred: the configuration never holds the secret).</summary>
    public string? Sha256 { get; set; }

    /// <summary>The key itself, for keys injected from a secret store.</summary>
    public string? Key { get; set; }
}

/// <summary>Per-principal token bucket (anonymous callers: per client address). TokenLimit 0 turns it off.</summary>
public sealed class RateLimitOptions
{
    /// <summary>Burst size: requests (HTTP requests, gRPC calls, WebSocket upgrades) a caller may make at once.</summary>
    [Range(0, 1_000_000)]
    public int TokenLimit { get; set; }

    /// <summary>Tokens added back every <see cref="ReplenishmentPeriod"/>.</summary>
    [Range(1, 1_000_000)]
    public int TokensPerPeriod { get; set; } = 1;

    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);

    public bool Enabled => TokenLimit > 0;
}

/// <summary>
/// Per-caller limits on what stays open. A stream is a long-lived request: an NDJSON or SSE chat stream, an SSE turn's
/// event stream, a WebSocket, or a streaming chat.ChatService call (Chat, SendMessage, WatchSession) over gRPC or
/// gRPC-Web. The caller is the API key's principal, or the client address for anonymous callers, as for the rate limit.
/// </summary>
public sealed class LimitsOptions
{
    public const int DefaultMaxConcurrentStreamsPerClient = 100;

    /// <summary>
    /// Streams one caller may hold open at once; the next is refused (429 / RESOURCE_EXHAUSTED with Retry-After).
    /// 0 turns the cap off. The default matches Kestrel's 100 streams per HTTP/2 connection: one busy client, not a
    /// crowd behind one address or key (raise it, or set an override, for those).
    /// </summary>
    [Range(0, 1_000_000)]
    public int MaxConcurrentStreamsPerClient { get; set; } = DefaultMaxConcurrentStreamsPerClient;

    /// <summary>API key id → its own cap (0: no cap for that key), e.g. a trusted service that fans out for many users.</summary>
    public Dictionary<string, int> MaxConcurrentStreamsByPrincipal { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The Retry-After a refused stream gets. A stream's end cannot be predicted, so this is a hint: about as long as a
    /// short reply takes.
    /// </summary>
    public TimeSpan StreamRetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    public bool Enabled => MaxConcurrentStreamsPerClient > 0 || MaxConcurrentStreamsByPrincipal.Values.Any(cap => cap > 0);
}

/// <summary>How the gateway answers when a transport has no instance it can reach (docs/gateway.md, "Errors").</summary>
public sealed class UnavailableOptions
{
    /// <summary>
    /// The Retry-After of a 503 (and the retry-after metadata of UNAVAILABLE): about one active health-check interval
    /// (5 s), by when a restarted replica is usually back or a dead one taken out of rotation.
    /// </summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Web origins allowed to call the gateway from a browser. None: no CORS headers (same origin only).</summary>
public sealed class CorsOriginsOptions
{
    public string[] AllowedOrigins { get; set; } = [];
}
