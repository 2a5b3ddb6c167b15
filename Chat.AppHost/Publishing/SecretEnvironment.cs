using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;

namespace Chat.Hosting.Publishing;

/// <param name="Name">The environment variable the service reads (GEMINI_API_KEY, Gateway__ApiKeys__alice__Key).</param>
/// <param name="Optional">The service runs without it (no Gemini key: the offline model), so the reference is optional.</param>
public sealed record SecretEnvironment(string Name, bool Optional);

/// <summary>
/// Publishing facts about a resource that the run-time model does not carry: which of its environment variables are
/// secrets. Kept beside the resource (not on it) so the orchestrator's model stays as it is.
/// </summary>
internal static class PublishingAnnotations
{
    private static readonly string[] s_secretEndings = ["key", "keys", "secret", "secrets", "password", "pwd", "accesstoken", "apitoken", "bearertoken"];
    private static readonly ConditionalWeakTable<Resource, Dictionary<string, SecretEnvironment>> s_secrets = new();

    public static Dictionary<string, SecretEnvironment> SecretsOf(Resource resource) =>
        s_secrets.GetValue(resource, _ => new Dictionary<string, SecretEnvironment>(StringComparer.Ordinal));

    /// <summary>
    /// Declared secrets, plus anything in the resource's environment that is named like one: a name segment
    /// (GEMINI_API_KEY → KEY, Llm__OpenAI__ApiKey → ApiKey, Gateway__ApiKeys__alice__Sha256 → ApiKeys) ending in key,
    /// secret, password or an access token — but not InterTokenDelayMs or ReplyTokens — or a value holding password=.
    /// </summary>
    public static bool IsSecret(Resource resource, string name, string? value) =>
        SecretsOf(resource).ContainsKey(name)
        || name.Split(['_', ':'], StringSplitOptions.RemoveEmptyEntries)
            .Any(segment => s_secretEndings.Any(ending => segment.EndsWith(ending, StringComparison.OrdinalIgnoreCase)) || segment.Equals("token", StringComparison.OrdinalIgnoreCase))
        || (value?.Contains("password=", StringComparison.OrdinalIgnoreCase) ?? false);
}

public static class SecretEnvironmentExtensions
{
    /// <summary>
    /// The service reads a secret from <paramref name="name"/>. Locally the AppHost passes the value from its own
    /// configuration (environment, user secrets, command line) when it has one; published, the variable becomes a
    /// secretKeyRef to the Secret &lt;resource&gt;-secrets, and the value is never written anywhere.
    /// </summary>
    public static IResourceBuilder<T> WithSecretEnvironment<T>(this IResourceBuilder<T> builder, string name, bool optional = true)
        where T : Resource
    {
        PublishingAnnotations.SecretsOf(builder.Resource)[name] = new SecretEnvironment(name, optional);
        if (builder.ApplicationBuilder.Configuration[name] is { Length: > 0 } value)
        {
            builder.Resource.Environment[name] = value;
        }

        return builder;
    }

    /// <summary>
    /// Every value under <paramref name="section"/> (Gateway:ApiKeys:alice:Key) as a secret environment variable
    /// (Gateway__ApiKeys__alice__Key), required where it is configured.
    /// </summary>
    public static IResourceBuilder<T> WithSecretEnvironment<T>(this IResourceBuilder<T> builder, IConfigurationSection section)
        where T : Resource
    {
        foreach (var (key, value) in section.AsEnumerable())
        {
            if (value is not null)
            {
                var name = key.Replace(":", "__", StringComparison.Ordinal);
                PublishingAnnotations.SecretsOf(builder.Resource)[name] = new SecretEnvironment(name, Optional: false);
                builder.Resource.Environment[name] = value;
            }
        }

        return builder;
    }
}
