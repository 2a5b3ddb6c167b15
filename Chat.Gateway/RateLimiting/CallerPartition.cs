using System.Security.Claims;

namespace Chat.Gateway.RateLimiting;

/// <summary>
/// Who a limit counts against: the API key's principal when keys are on, otherwise the client's address. The rate
/// limit and the stream cap share it, so one caller is one caller for both.
/// </summary>
public static class CallerPartition
{
    public static string Of(HttpContext context) =>
        PrincipalOf(context) is { } principal
            ? $"principal:{principal}"
            : $"address:{context.Connection.RemoteIpAddress}";

    /// <summary>The authenticated API key's id, or null for an anonymous caller.</summary>
    public static string? PrincipalOf(HttpContext context) =>
        context.User.FindFirstValue(ClaimTypes.NameIdentifier) is { Length: > 0 } principal ? principal : null;
}
