using Aspire.Hosting.ApplicationModel;

namespace Aspire.Hosting;

/// <summary>
/// The credential the transports present to Chat.Llm.Service (docs/reliability.md): Llm:InternalApiKey when
/// configured, else one generated per AppHost run; a secret parameter, so the dashboard masks it and manifests
/// reference a secret.
/// </summary>
public static class InternalCredentialExtensions
{
    public const string ParameterName = "llm-internal-key";
    public const string EnvironmentName = "Llm__InternalApiKey";

    public static IResourceBuilder<ParameterResource> AddInternalApiKey(this IDistributedApplicationBuilder builder) =>
        builder.Configuration["Llm:InternalApiKey"] is { Length: > 0 } configured
            ? builder.AddParameter(ParameterName, configured, secret: true)
            : builder.AddParameter(ParameterName, new GenerateParameterDefault { MinLength = 40, Special = false }, secret: true, persist: false);

    public static IResourceBuilder<T> WithInternalApiKey<T>(this IResourceBuilder<T> builder, IResourceBuilder<ParameterResource> key)
        where T : IResourceWithEnvironment => builder.WithEnvironment(EnvironmentName, key);
}
