using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Bench;

/// <summary>
/// The system under test: the whole graph of Chat.AppHost started with Aspire.Hosting.Testing (DCP and real processes;
/// one replica of each service, the offline model in deterministic pacing), or a running gateway the bench attaches
/// to (A2 only).
/// </summary>
public sealed class BenchSystem : IAsyncDisposable
{
    public static readonly string[] Resources = ["llm", "rest", "streaming", "sse", "websocket", "grpc", "gateway"];

    // Every process DCP starts inherits the AppHost's environment (here: the bench's), marker included: that is how the
    // bench finds DCP's own processes and the dashboard beside the services, for "the whole application at rest".
    private static readonly string s_marker = $"CHAT_BENCH_RUN={Guid.NewGuid():N}";

    private DistributedApplication? _app;

    public Uri Gateway { get; private init; } = null!;
    public Uri GatewayHttp2 { get; private init; } = null!;
    public Uri? Llm { get; private init; }
    public string? LlmInternalApiKey { get; private init; }
    public IReadOnlyDictionary<string, Uri> Transports { get; private init; } = new Dictionary<string, Uri>();
    public string? RedisConnection { get; private init; }

    public NginxPeer? Nginx { get; private set; }

    /// <summary>The collector the services export to (null when attached to a running gateway).</summary>
    public OtlpSink? Telemetry { get; private init; }

    public bool Attached => _app is null;

    /// <summary>A service of the graph (a replica of one of <see cref="Resources"/>), not Redis, DCP or the client.</summary>
    public static bool IsService(string name) =>
        Resources.Any(r => name == r || (name.StartsWith(r + "-", StringComparison.Ordinal) && int.TryParse(name.AsSpan(r.Length + 1), out _)));

    public static BenchSystem Attach(Uri gateway, Uri? gatewayHttp2) => new()
    {
        Gateway = gateway,
        GatewayHttp2 = gatewayHttp2 ?? new UriBuilder(gateway) { Port = 50051 }.Uri,
    };

    public static async Task<BenchSystem> StartAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var sink = await OtlpSink.StartAsync(cancellationToken);
        var marker = s_marker.Split('=');
        Environment.SetEnvironmentVariable(marker[0], marker[1]);
        var settings = new Dictionary<string, string?>
        {
            // Console logging at Warning, so logging is not what we measure.
            ["Logging:LogLevel:Default"] = "Warning",
            ["Llm:Provider"] = "offline",
            ["Llm:Offline:TimeToFirstTokenMs"] = options.TimeToFirstTokenMs.ToString(CultureInfo.InvariantCulture),
            ["Llm:Offline:InterTokenDelayMs"] = options.IntervalMs.ToString(CultureInfo.InvariantCulture),
            ["Llm:Offline:ReplyTokens"] = options.Tokens.ToString(CultureInfo.InvariantCulture),
            ["Gateway:Limits:MaxConcurrentStreamsPerClient"] = "0", // the bench is one client with thousands of streams
            // Telemetry goes to the bench's own sink (a collector that accepts and drops everything): the services pay
            // what exporting costs, not the retries of exporting to nothing.
            ["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = sink.Endpoint.ToString(),
            ["Redis:DataDirectory"] = Directory.CreateTempSubdirectory("chat-bench-redis-").FullName,
        };

        // Slow pacing for idle streams must not trip the model idle timeout (a silent model ends the turn).
        var silence = TimeSpan.FromMilliseconds(2.0 * (options.TimeToFirstTokenMs + options.IntervalMs));
        if (silence > TimeSpan.FromMinutes(2))
        {
            settings["Llm:ModelIdleTimeout"] = silence.ToString("c", CultureInfo.InvariantCulture);
            // …nor the transports' deadline for a whole turn (an idle SSE stream is a turn that has not answered yet).
            var turn = TimeSpan.FromMinutes(Math.Min(60, 2 * silence.TotalMinutes + 1));
            settings["Transport:TurnTimeout"] = turn.ToString("c", CultureInfo.InvariantCulture);
        }

        string[] args = ["--replicas", "llm=1,rest=1,streaming=1,sse=1,websocket=1,grpc=1",
            .. settings.Select(pair => $"--{pair.Key}={pair.Value}")];
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Chat_AppHost>(args, cancellationToken);
        // The AppHost's health checks of resources still starting are expected failures, not news.
        builder.Services.AddLogging(logging => logging
            .AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None)
            .AddFilter("Aspire.Hosting", LogLevel.Error));
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            builder.CreateResourceBuilder(project).WithEnvironment("Logging__LogLevel__Default", "Warning")
                .WithOtlpExporter(OtlpProtocol.HttpProtobuf);
            foreach (var (name, value) in TelemetryEnvironment(options.Telemetry))
            {
                builder.CreateResourceBuilder(project).WithEnvironment(name, value);
            }

            foreach (var (name, value) in options.ServiceEnvironment)
            {
                builder.CreateResourceBuilder(project).WithEnvironment(name, value);
            }

            if (options.DotnetRunHost)
            {
                // Aspire's default launch (`dotnet run --project … --no-build`, a host process beside each service)
                // instead of the AppHost's WithBuiltOutputLaunch: what that extension saves, measured.
                foreach (var launch in project.Annotations.OfType<ExecutableAnnotation>().ToList())
                {
                    project.Annotations.Remove(launch);
                }
            }
        }

        var app = await builder.BuildAsync(cancellationToken);
        try
        {
            await app.StartAsync(cancellationToken);
            foreach (var resource in Resources.Append("redis"))
            {
                await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, WaitBehavior.StopOnResourceUnavailable, cancellationToken)
                    .WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
            }

            var key = await app.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<ParameterResource>()
                .Single(p => p.Name == InternalCredentialExtensions.ParameterName).GetValueAsync(cancellationToken);
            return new BenchSystem
            {
                _app = app,
                Telemetry = sink,
                Gateway = app.GetEndpoint("gateway", "http"),
                GatewayHttp2 = app.GetEndpoint("gateway", "http2"),
                Llm = app.GetEndpoint("llm", "http"),
                LlmInternalApiKey = key,
                Transports = Resources[1..^1].ToDictionary(r => r, r => app.GetEndpoint(r, "http")),
                RedisConnection = await app.GetConnectionStringAsync("redis", cancellationToken),
            };
        }
        catch
        {
            await app.DisposeAsync();
            await sink.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// How the services export telemetry. "production": the OpenTelemetry SDK's own intervals (metrics every 60 s,
    /// spans and logs every 5 s), as a deployment exports. "aspire": what `dotnet run` of the AppHost gives them (every
    /// second, for a live dashboard). "off": the SDK disabled (OTEL_SDK_DISABLED), to see what telemetry costs.
    /// </summary>
    private static Dictionary<string, string> TelemetryEnvironment(string mode) => mode switch
    {
        "production" => new()
        {
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "60000",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "5000",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "5000",
        },
        "aspire" => [],
        "off" => new() { ["OTEL_SDK_DISABLED"] = "true" },
        _ => throw new ArgumentException($"--telemetry {mode}: expected production, aspire or off."),
    };

    /// <summary>
    /// The bench client and every process of the application: the services and Redis by resource name, and what
    /// Aspire runs beside them (DCP's API server, controllers and process monitors, the dashboard when enabled).
    /// </summary>
    public IReadOnlyList<WatchedProcess> Processes()
    {
        var processes = new List<WatchedProcess> { new("bench", Environment.ProcessId) };
        if (Nginx is { } nginx)
        {
            processes.Add(nginx.Processes());
        }

        if (_app is null)
        {
            return processes;
        }

        var names = new List<(string Name, int Pid)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var environment = File.ReadAllText(Path.Combine(directory, "environ")).Split('\0');
                if (!environment.Contains(s_marker))
                {
                    continue;
                }

                var service = environment.FirstOrDefault(e => e.StartsWith("OTEL_SERVICE_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1];
                var command = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ').Trim();
                var name = command.Contains("redis-server", StringComparison.Ordinal) || command.Contains("GarnetServer", StringComparison.Ordinal) ? "redis"
                    : command.Contains("monitor-process", StringComparison.Ordinal) ? "dcp-monitor"
                    : command.Contains("run-controllers", StringComparison.Ordinal) ? "dcp-controllers"
                    : command.Contains("start-apiserver", StringComparison.Ordinal) ? "dcp-apiserver"
                    // Aspire's default launch: a `dotnet run` host that stays alive beside the service it started.
                    : command.Contains(" run ", StringComparison.Ordinal) && command.Contains("--project", StringComparison.Ordinal) ? "dotnet-run-host"
                    : service ?? Path.GetFileName(command.Split(' ')[0]);
                names.Add((name, pid));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        // redis-server rewrites its process title over its environment, so it is found by the port the LLM service was given.
        if (!names.Any(n => n.Name == "redis") && RedisConnection is { } redis
            && int.TryParse(redis.Split(',')[0].Split(':')[^1], out var redisPort) && PortOwners.Listening().TryGetValue(redisPort, out var redisPid))
        {
            names.Add(("redis", redisPid));
        }

        processes.AddRange(names.GroupBy(n => n.Name).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new WatchedProcess(g.Key, g.Select(n => n.Pid).ToList())));
        return processes;
    }

    /// <summary>Processes of the application itself (not the bench client, not nginx).</summary>
    public IReadOnlyList<WatchedProcess> ApplicationProcesses() => Processes().Where(p => p.Name is not ("bench" or "nginx")).ToList();

    /// <summary>
    /// The path of each kind of arm, hop by hop: the port the caller was given (by the bench, or in the caller's
    /// environment by DCP) and the process that owns it. A DCP proxy (or any other) in front of a service shows by name.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<PathHop>> Paths(IEnumerable<string> transports)
    {
        var processes = Processes();
        var owners = PortOwners.Listening();
        var connections = PortOwners.Connections();
        int PidOf(string name) => processes.FirstOrDefault(p => p.Name == name)?.Pids[0] ?? 0;
        PathHop Hop(string from, string to, Uri? uri, string? protocol = null)
        {
            var port = uri?.Port ?? 0;
            var held = processes.FirstOrDefault(p => p.Name == from) is { } caller ? caller.Pids.Sum(pid => connections.GetValueOrDefault((pid, port))) : (int?)null;
            return owners.TryGetValue(port, out var owner)
                ? new PathHop(from, to, port, PortOwners.Describe(owner, processes), owner, protocol, held)
                : new PathHop(from, to, port, "(nobody listens)", 0, protocol, held);
        }

        Uri? Env(string process, string variable) =>
            PortOwners.Environment(PidOf(process), variable) is { } value
                ? Uri.TryCreate(value, UriKind.Absolute, out var uri) ? uri : new Uri("tcp://" + value.Split(',')[0])
                : null;

        // The gateway speaks h2c to a transport that offers it (services__<name>__h2c__0), else HTTP/1.1.
        PathHop Upstream(string transport) => Env("gateway", $"services__{transport}__h2c__0") is { } h2c
            ? Hop("gateway", transport, h2c, "h2c")
            : Hop("gateway", transport, Env("gateway", $"services__{transport}__http__0"), transport == "grpc" ? "h2c" : "http/1.1");

        var paths = new Dictionary<string, IReadOnlyList<PathHop>>();
        var toRedis = Hop("llm", "redis", Env("llm", "ConnectionStrings__redis"));
        if (Llm is not null)
        {
            paths["A0"] = [Hop("bench", "llm", Llm), toRedis];
        }

        foreach (var transport in transports)
        {
            var toLlm = Hop(transport, "llm", Env(transport, "services__llm__http__0"), "h2c");
            var upstream = Upstream(transport);
            if (Transports.TryGetValue(transport, out var direct))
            {
                paths[$"A1 {transport}"] = [Hop("bench", transport, direct), toLlm, toRedis];
            }

            paths[$"A2 {transport}"] = [Hop("bench", "gateway", transport == "grpc" ? GatewayHttp2 : Gateway), upstream, toLlm, toRedis];
            if (Nginx is { } nginx)
            {
                paths[$"A2n {transport}"] = [Hop("bench", "nginx", transport == "grpc" ? nginx.Http2 : nginx.Http),
                    Hop("nginx", transport, Transports.GetValueOrDefault(transport)), toLlm, toRedis];
            }
        }

        return paths;
    }

    /// <summary>RSS and PSS of every process of the application (services, Redis, DCP, the dashboard when enabled).</summary>
    public IReadOnlyList<ProcessMemory> Memory() => ApplicationProcesses()
        .Select(p => (p, Sample: p.ReadWithPss()))
        .Select(x => new ProcessMemory(x.p.Name, x.p.Pids.Count, x.Sample.RssBytes, x.Sample.PssBytes))
        .ToList();

    /// <summary>Starts the nginx peer in front of the same transport replicas (A2n); the reason when skipped.</summary>
    public async Task<string?> StartNginxAsync(CancellationToken cancellationToken)
    {
        var (peer, skipped) = await NginxPeer.StartAsync(Transports, cancellationToken);
        Nginx = peer;
        return skipped;
    }

    public async ValueTask DisposeAsync()
    {
        if (Telemetry is not null)
        {
            await Telemetry.DisposeAsync();
        }

        if (Nginx is not null)
        {
            await Nginx.DisposeAsync();
        }

        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}

/// <summary>
/// One role of the application at rest (several processes for DCP's monitors): RSS and PSS in bytes (started, before
/// any turn), and the CPU it uses doing nothing once the scenarios are over, in cores (0.01 = 10 ms of CPU per second).
/// </summary>
public sealed record ProcessMemory(string Name, int Processes, long RssBytes, long PssBytes, double CpuCoresAtRest = 0);
