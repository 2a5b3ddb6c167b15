using Aspire.Hosting.ApplicationModel;
using Chat.AppHost.Publishing;
using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

public static class ConfigurationEnvironmentExtensions
{
    /// <summary>
    /// Passes a section of the AppHost's configuration through as environment variables (Llm:Offline:InterTokenDelayMs
    /// → Llm__Offline__InterTokenDelayMs), so `dotnet run --project Chat.AppHost -- --Llm:Provider=offline` reaches the service.
    /// A key named like a secret (Llm:OpenAI:ApiKey) goes as a secret parameter instead: masked in the dashboard, a
    /// parameter reference in Aspire's manifest and a secret reference in the Kubernetes manifests, never a value.
    /// </summary>
    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, IConfigurationSection section)
        where T : IResourceWithEnvironment
    {
        foreach (var (key, value) in section.AsEnumerable())
        {
            if (value is null)
            {
                continue;
            }

            var name = key.Replace(":", "__", StringComparison.Ordinal);
            if (SecretNames.LooksLikeSecret(key))
            {
                builder.WithSecret(name, configurationKey: key);
            }
            else
            {
                builder.WithEnvironment(name, value);
            }
        }

        return builder;
    }

    /// <summary>
    /// The service reads a secret from the environment variable <paramref name="name"/> (GEMINI_API_KEY). Run: the
    /// AppHost's own value (environment, user secrets, command line) as a secret parameter, so the dashboard masks it;
    /// none configured, nothing is passed (the service has its fallback). Publish: always a secret parameter, which
    /// the manifests turn into a secret reference; the value is never written.
    /// </summary>
    public static IResourceBuilder<T> WithSecretEnvironment<T>(this IResourceBuilder<T> builder, string name)
        where T : IResourceWithEnvironment => builder.WithSecret(name, configurationKey: name, optional: true);

    /// <summary>Every value under <paramref name="section"/> (Gateway:ApiKeys:alice:Key) as a secret (Gateway__ApiKeys__alice__Key).</summary>
    public static IResourceBuilder<T> WithSecretEnvironment<T>(this IResourceBuilder<T> builder, IConfigurationSection section)
        where T : IResourceWithEnvironment
    {
        foreach (var (key, value) in section.AsEnumerable())
        {
            if (value is not null)
            {
                builder.WithSecret(key.Replace(":", "__", StringComparison.Ordinal), configurationKey: key);
            }
        }

        return builder;
    }

    /// <param name="optional">The service runs without it: published, its reference is optional (<see cref="OptionalSecretAnnotation"/>).</param>
    private static IResourceBuilder<T> WithSecret<T>(this IResourceBuilder<T> builder, string environmentName, string configurationKey, bool optional = false)
        where T : IResourceWithEnvironment
    {
        var application = builder.ApplicationBuilder;

        // DCP, and every process it starts, inherits the AppHost's environment: once read, a secret leaves it, so it
        // reaches only the resources that declare it.
        var present = !string.IsNullOrEmpty(application.Configuration[configurationKey]);
        Environment.SetEnvironmentVariable(environmentName, null);
        if (!present && !application.ExecutionContext.IsPublishMode)
        {
            return builder;
        }

        var parameterName = environmentName.ToLowerInvariant().Replace("__", "-", StringComparison.Ordinal).Replace('_', '-');
        var parameter = application.Resources.OfType<ParameterResource>().FirstOrDefault(p => p.Name == parameterName) is { } existing
            ? application.CreateResourceBuilder(existing)
            : application.AddParameterFromConfiguration(parameterName, configurationKey, secret: true);
        if (optional)
        {
            parameter.WithAnnotation(new OptionalSecretAnnotation(), ResourceAnnotationMutationBehavior.Replace);
        }

        return builder.WithEnvironment(environmentName, parameter);
    }
}
