using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace Chat.Tests.Gateway;

/// <summary>
/// The gateway with nothing to reach: every transport's only replica is an address that refuses connections. Extra
/// routes give the other ways forwarding fails: <c>/empty/…</c> (and native gRPC with <c>x-test-cluster: empty</c>)
/// go to a cluster with no destination at all; <c>/unhealthy/…</c> to one whose only replica fails its health probes
/// (with YARP's HealthyAndUnknown policy, so it is left with none); <c>/dying/{sse,streaming,websocket,grpc}/…</c>
/// (and native gRPC with <c>x-test-cluster: dying</c>) to the live test backends, whose <c>…/dies…</c> endpoints drop
/// the connection mid-stream. An API key is required (so the logs can be checked for it) and every log line the
/// gateway writes, down to Debug, is captured.
/// </summary>
public sealed class UnreachableGatewayFixture : GatewayFixture
{
    public const string ApiKey = "ivan-unreachable-key-7f3a";

    /// <summary>
    /// A key only ever sent in headers, for the log check: in this in-process host the test server is registered after
    /// the gateway wraps Kestrel to strip <c>?api_key=</c> (ApiKeyQueryRedaction), so query keys are checked by the
    /// whole-system Reliability.TelemetryLeakTests instead.
    /// </summary>
    public const string HeaderOnlyApiKey = "judy-header-only-key-51c9";
    public const string RouteHeader = "x-test-cluster";
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(7);

    public CapturingLoggerProvider Logs { get; } = new();

    /// <summary>A loopback port nothing listens on: connecting to it is refused at once.</summary>
    public string DeadAddress { get; } = $"http://127.0.0.1:{RedisServer.FreeTcpPort()}";

    public HttpClient CreateKeyedClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        return client;
    }

    protected override void AddSettings(IDictionary<string, string> settings)
    {
        var live = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var cluster in new[] { "rest", "streaming", "sse", "websocket", "grpc" })
        {
            live[cluster] = settings[$"services:{cluster}:http:0"];
            settings[$"services:{cluster}:http:0"] = DeadAddress;
        }

        settings.Remove("services:rest:http:1");
        settings["Gateway:ApiKeys:ivan:Key"] = ApiKey;
        settings["Gateway:ApiKeys:judy:Key"] = HeaderOnlyApiKey;
        settings["Gateway:Unavailable:RetryAfter"] = RetryAfter.ToString();
        foreach (var category in new[] { "Default", "Microsoft.AspNetCore", "Yarp" })
        {
            settings[$"Logging:LogLevel:{category}"] = "Debug";
        }

        // No destination at all.
        Cluster(settings, "empty");
        Route(settings, "empty-http", "empty", "/empty/{**rest}", removePrefix: "/empty");
        Route(settings, "empty-grpc", "empty", "/chat.ChatService/{method}", header: "empty");

        // One destination, failing its active health probes; HealthyAndUnknown leaves none to choose from.
        Cluster(settings, "unhealthy", DeadAddress);
        settings["ReverseProxy:Clusters:unhealthy:HealthCheck:AvailableDestinationsPolicy"] = "HealthyAndUnknown";
        settings["ReverseProxy:Clusters:unhealthy:HealthCheck:Active:Enabled"] = "true";
        settings["ReverseProxy:Clusters:unhealthy:HealthCheck:Active:Interval"] = "00:00:00.200";
        settings["ReverseProxy:Clusters:unhealthy:HealthCheck:Active:Timeout"] = "00:00:01";
        settings["ReverseProxy:Clusters:unhealthy:HealthCheck:Active:Policy"] = "ConsecutiveFailures";
        settings["ReverseProxy:Clusters:unhealthy:HealthCheck:Active:Path"] = "/health";
        Route(settings, "unhealthy-http", "unhealthy", "/unhealthy/{**rest}", removePrefix: "/unhealthy");

        // The live backends, whose .../dies... endpoints drop their connection mid-stream.
        foreach (var cluster in new[] { "sse", "streaming", "websocket" })
        {
            Cluster(settings, $"dying-{cluster}", live[cluster]);
            Route(settings, $"dying-{cluster}", $"dying-{cluster}", $"/dying/{cluster}/{{**rest}}", removePrefix: $"/dying/{cluster}");
        }

        Cluster(settings, "dying-grpc", live["grpc"], http2: true);
        Route(settings, "dying-grpc-web", "dying-grpc", "/dying/grpc/{**rest}", removePrefix: "/dying/grpc");
        Route(settings, "dying-grpc", "dying-grpc", "/chat.ChatService/{method}", header: "dying");
    }

    protected override void ConfigureGateway(IWebHostBuilder builder)
    {
        // Only the capture: the test output stays quiet, and nothing the gateway logs escapes the assertions.
        builder.ConfigureLogging(logging =>
        {
            logging.ClearProviders();
            logging.AddProvider(Logs);
        });
    }

    private static void Cluster(IDictionary<string, string> settings, string name, string? address = null, bool http2 = false)
    {
        var prefix = $"ReverseProxy:Clusters:{name}";
        settings[$"{prefix}:LoadBalancingPolicy"] = "PowerOfTwoChoices";
        if (address is not null)
        {
            settings[$"{prefix}:Destinations:d0:Address"] = address;
        }

        if (http2)
        {
            settings[$"{prefix}:HttpRequest:Version"] = "2";
            settings[$"{prefix}:HttpRequest:VersionPolicy"] = "RequestVersionExact";
        }
    }

    /// <summary>A route; with <paramref name="header"/> it wins over the standard route of the same path when x-test-cluster says so.</summary>
    private static void Route(IDictionary<string, string> settings, string name, string cluster, string path, string? removePrefix = null, string? header = null)
    {
        var prefix = $"ReverseProxy:Routes:{name}";
        settings[$"{prefix}:ClusterId"] = cluster;
        settings[$"{prefix}:Match:Path"] = path;
        if (removePrefix is not null)
        {
            settings[$"{prefix}:Transforms:0:PathRemovePrefix"] = removePrefix;
        }

        if (header is not null)
        {
            settings[$"{prefix}:Order"] = "-1";
            settings[$"{prefix}:Match:Headers:0:Name"] = RouteHeader;
            settings[$"{prefix}:Match:Headers:0:Values:0"] = header;
            settings[$"{prefix}:Match:Headers:0:Mode"] = "ExactHeader";
        }
    }
}

[CollectionDefinition(Name)]
public sealed class UnreachableGatewayCollection : ICollectionFixture<UnreachableGatewayFixture>
{
    public const string Name = "UnreachableGateway";
}
