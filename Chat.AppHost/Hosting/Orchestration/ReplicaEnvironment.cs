using System.Text.RegularExpressions;
using Chat.Hosting.Publishing;
using Microsoft.Extensions.Hosting;

namespace Chat.Hosting.Orchestration;

/// <summary>The environment of one replica, as Aspire builds it (see docs/apphost.md for the table).</summary>
internal static partial class ReplicaEnvironment
{
    /// <summary>
    /// The Aspire environment: ASPNETCORE_URLS, services__&lt;ref&gt;__&lt;endpoint&gt;__&lt;i&gt; for EVERY replica of every
    /// referenced project (our deviation: Aspire injects one proxy address), ConnectionStrings__&lt;redis&gt;, OTEL_*.
    /// </summary>
    public static Dictionary<string, string?> Build(Resource resource, int index, Topology topology, OtlpExporterSettings otlp, IHostEnvironment environment)
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal);

        // What the AppHost itself was given for its own children must not leak into them by inheritance.
        foreach (var inherited in Environment.GetEnvironmentVariables().Keys.Cast<string>())
        {
            if (IsOwnedVariable(inherited))
            {
                env[inherited] = null;
            }
        }

        if (resource is RedisResource)
        {
            return env;
        }

        var own = topology.EndpointsOf(resource, index);
        var urls = resource.Endpoints.Where(e => e.UrlEnvironmentVariable is null).Select(e => own[e.Name].ToString().TrimEnd('/')).ToList();
        if (urls.Count > 0)
        {
            env["ASPNETCORE_URLS"] = string.Join(';', urls);
        }
        foreach (var endpoint in resource.Endpoints.Where(e => e.UrlEnvironmentVariable is not null))
        {
            env[endpoint.UrlEnvironmentVariable!] = own[endpoint.Name].ToString().TrimEnd('/');
        }

        env["ASPNETCORE_ENVIRONMENT"] = environment.EnvironmentName;
        env["DOTNET_ENVIRONMENT"] = environment.EnvironmentName;
        env["OTEL_SERVICE_NAME"] = resource.Name;
        env["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={resource.Name}-{index}";
        env["Logging__Console__FormatterName"] = "simple";
        env["Logging__Console__FormatterOptions__ColorBehavior"] = "Disabled";
        env["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ";
        if (otlp.Endpoint is { } otlpEndpoint)
        {
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint;
            env["OTEL_EXPORTER_OTLP_PROTOCOL"] = otlp.Protocol;
            env["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"] = "in_memory";
            if (environment.IsDevelopment())
            {
                // Aspire's development settings: telemetry shows up within a second.
                env["OTEL_BSP_SCHEDULE_DELAY"] = "1000";
                env["OTEL_BLRP_SCHEDULE_DELAY"] = "1000";
                env["OTEL_METRIC_EXPORT_INTERVAL"] = "1000";
                env["OTEL_TRACES_SAMPLER"] = "always_on";
            }
        }

        foreach (var reference in resource.References)
        {
            if (reference is RedisResource)
            {
                env[$"ConnectionStrings__{reference.Name}"] = topology.RedisPlanOf(reference).ConnectionString;
                continue;
            }

            for (var replica = 0; replica < reference.Replicas; replica++)
            {
                foreach (var (endpointName, address) in topology.EndpointsOf(reference, replica))
                {
                    // One index per replica and endpoint: services__sse__http__0, services__sse__http__1…
                    env[$"services__{reference.Name}__{endpointName}__{replica}"] = address.ToString().TrimEnd('/');
                }
            }
        }

        foreach (var (name, value) in resource.Environment)
        {
            env[name] = value;
        }

        return env;
    }

    private static bool IsOwnedVariable(string name) =>
        name.StartsWith("services__", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("OTEL_", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("Kestrel__", StringComparison.OrdinalIgnoreCase)
        || name is "ASPNETCORE_URLS" or "HTTP_PORTS" or "HTTPS_PORTS" or "ASPNETCORE_HTTP_PORTS" or "ASPNETCORE_HTTPS_PORTS" or "GATEWAY_HTTP2_URL";

    /// <summary>
    /// The environment as snapshots show it (dashboard, tests): declared secrets and secret-looking names
    /// (GEMINI_API_KEY, Gateway__ApiKeys__alice__Key; not Llm__Offline__InterTokenDelayMs) as ***, and password= in
    /// connection strings masked. One definition of "secret" with the publisher (PublishingAnnotations.IsSecret).
    /// </summary>
    public static Dictionary<string, string> Redact(Resource resource, Dictionary<string, string?> env) =>
        env.Where(pair => pair.Value is not null).ToDictionary(pair => pair.Key, pair =>
            PublishingAnnotations.IsSecret(resource, pair.Key, value: null)
                ? "***"
                : PasswordInConnectionString().Replace(pair.Value!, "password=***"));

    [GeneratedRegex("password=[^,]*", RegexOptions.IgnoreCase)]
    private static partial Regex PasswordInConnectionString();
}
