using Aspire.Hosting.ApplicationModel;

namespace Chat.AppHost.Publishing;

/// <summary>
/// A secret parameter the services run without (GEMINI_API_KEY: without it the LLM service uses the offline model).
/// Published, its reference is optional, so a cluster that has no such Secret still starts the pods.
/// </summary>
public sealed class OptionalSecretAnnotation : IResourceAnnotation;

/// <summary>Which names and values are secrets even when nobody declared them so.</summary>
public static class SecretNames
{
    private static readonly string[] s_secretEndings = ["key", "keys", "secret", "secrets", "password", "pwd", "accesstoken", "apitoken", "bearertoken"];

    /// <summary>
    /// A name segment (GEMINI_API_KEY → KEY, Llm:OpenAI:ApiKey → ApiKey, Gateway__ApiKeys__alice__Sha256 → ApiKeys)
    /// ending in key, secret, password or an access token, or exactly "token" — but not InterTokenDelayMs or ReplyTokens.
    /// </summary>
    public static bool LooksLikeSecret(string name) =>
        name.Split(['_', ':'], StringSplitOptions.RemoveEmptyEntries).Any(segment =>
            segment.Equals("token", StringComparison.OrdinalIgnoreCase)
            || s_secretEndings.Any(ending => segment.EndsWith(ending, StringComparison.OrdinalIgnoreCase)));

    /// <summary>A value that carries a credential whatever its name (a connection string with password=).</summary>
    public static bool ValueLooksLikeSecret(string value) => value.Contains("password=", StringComparison.OrdinalIgnoreCase);
}
