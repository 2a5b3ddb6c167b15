using System.ComponentModel.DataAnnotations;

namespace Chat.Gateway;

/// <summary>Section <c>Gateway</c>: who may call, how often, and from which web origins. Everything is off by default.</summary>
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

/// <summary>Web origins allowed to call the gateway from a browser. None: no CORS headers (same origin only).</summary>
public sealed class CorsOriginsOptions
{
    public string[] AllowedOrigins { get; set; } = [];
}
