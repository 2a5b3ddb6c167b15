using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Chat.Gateway.Proxy;
using Chat.Gateway.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Chat.Gateway.Authentication;

/// <summary>
/// API keys from <see cref="GatewayOptions.ApiKeys"/>, presented as <c>X-Api-Key: key</c> or
/// <c>Authorization: Bearer key</c> (gRPC: the same metadata), or — for WebSocket upgrades only, since browsers
/// cannot set headers on them — as the <c>api_key</c> query parameter (taken out of the URL before anything logs or
/// traces it: <see cref="ApiKeyQueryRedaction"/>). The principal is the key's id.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IOptionsMonitor<GatewayOptions> gatewayOptions)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string ApiKeyHeader = "X-Api-Key";
    public const string ApiKeyQueryParameter = "api_key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var keys = gatewayOptions.CurrentValue.ApiKeys;
        if (keys.Count == 0 || PresentedKey(Request) is not { Length: > 0 } presented)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (KeyIdOf(presented, keys) is not { } keyId)
        {
            GatewayLog.InvalidApiKey(Logger, Request.Path);
            return Task.FromResult(AuthenticateResult.Fail("Invalid API key."));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, keyId), new Claim(ClaimTypes.Name, keyId)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{ApiKeyHeader}\", Bearer";
        return GatewayRejection.WriteAsync(Context, StatusCodes.Status401Unauthorized, GrpcStatus.Unauthenticated,
            "Unauthorized", $"A valid API key is required ({ApiKeyHeader} header or Authorization: Bearer).");
    }

    public static string? PresentedKey(HttpRequest request)
    {
        if (request.Headers[ApiKeyHeader] is [{ Length: > 0 } headerKey])
        {
            return headerKey;
        }

        if (request.Headers.Authorization is [{ } authorization]
            && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        if (!StreamRequests.IsWebSocketUpgrade(request))
        {
            return null;
        }

        // Taken out of the URL on arrival (ApiKeyQueryRedaction), so no log line or span carries it; a host whose
        // server is not wrapped (a test server) still has it in the query.
        return request.HttpContext.Features.Get<QueryApiKeyFeature>()?.Key
            ?? (request.Query[ApiKeyQueryParameter] is [{ Length: > 0 } queryKey] ? queryKey : null);
    }

    /// <summary>Compares the key's hash with every configured hash in constant time, so timing tells nothing.</summary>
    private static string? KeyIdOf(string presented, IReadOnlyDictionary<string, ApiKeyOptions> keys)
    {
        Span<byte> presentedHash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), presentedHash);
        Span<byte> configuredHash = stackalloc byte[SHA256.HashSizeInBytes];

        string? match = null;
        foreach (var (id, key) in keys)
        {
            if (key.Sha256 is { Length: > 0 } hex)
            {
                Convert.FromHexString(hex, configuredHash, out _, out _);
            }
            else
            {
                SHA256.HashData(Encoding.UTF8.GetBytes(key.Key ?? ""), configuredHash);
            }

            if (CryptographicOperations.FixedTimeEquals(presentedHash, configuredHash))
            {
                match ??= id;
            }
        }

        return match;
    }
}
