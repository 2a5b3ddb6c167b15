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
    private static readonly ConditionalWeakTable<Resource, Dictionary<string, SecretEnvironment>> s_secrets = new();

    public static Dictionary<string, SecretEnvironment> SecretsOf(Resource resource) =>
        s_secrets.GetValue(resource, _ => new Dictionary<string, SecretEnvironment>(StringComparer.Ordinal));

    /// <summary>
    /// Declared secrets plus anything in the resource's environment that looks like one (the orchestrator's rule for
    /// redacting: KEY, SECRET, TOKEN, PASSWORD in the name, or a password= in the value).
    /// </summary>
    public static bool IsSecret(Resource resource, string name, string? value) =>
        SecretsOf(resource).ContainsKey(name)
        || new[] { "KEY", "SECRET", "TOKEN", "PASSWORD" }.Any(word => name.Contains(word, StringComparison.OrdinalIgnoreCase))
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
