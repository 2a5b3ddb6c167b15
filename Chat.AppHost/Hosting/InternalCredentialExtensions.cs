using System.Security.Cryptography;
using Chat.Hosting.Publishing;

namespace Chat.Hosting;

/// <summary>
/// The credential the transports present to Chat.Llm.Service (<c>Llm:InternalApiKey</c>, docs/reliability.md): one per
/// AppHost run unless configured, given to the service and to every caller as the secret Llm__InternalApiKey.
/// </summary>
public static class InternalCredentialExtensions
{
    public const string ConfigurationKey = "Llm:InternalApiKey";
    public const string EnvironmentName = "Llm__InternalApiKey";

    /// <summary>The configured key, else a fresh random one (never logged: snapshots redact it by name).</summary>
    public static string InternalApiKey(this DistributedApplicationBuilder builder) =>
        builder.Configuration[ConfigurationKey] is { Length: > 0 } configured
            ? configured
            : Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public static IResourceBuilder<T> WithInternalApiKey<T>(this IResourceBuilder<T> builder, string key)
        where T : Resource
    {
        PublishingAnnotations.SecretsOf(builder.Resource)[EnvironmentName] = new SecretEnvironment(EnvironmentName, Optional: true);
        builder.Resource.Environment[EnvironmentName] = key;
        return builder;
    }
}
