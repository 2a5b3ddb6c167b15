using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

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

    public bool Attached => _app is null;

    public static BenchSystem Attach(Uri gateway, Uri? gatewayHttp2) => new()
    {
        Gateway = gateway,
        GatewayHttp2 = gatewayHttp2 ?? new UriBuilder(gateway) { Port = 50051 }.Uri,
    };

    public static async Task<BenchSystem> StartAsync(BenchOptions options, CancellationToken cancellationToken)
    {
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
            ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = "http://127.0.0.1:9", // no collector: the bench measures the chain
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
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            builder.CreateResourceBuilder(project).WithEnvironment("Logging__LogLevel__Default", "Warning");
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
            throw;
        }
    }

    /// <summary>
    /// The bench client and every process of the application: the services and Redis by resource name, and what
    /// Aspire runs beside them (DCP's API server, controllers and process monitors, the dashboard when enabled).
    /// </summary>
    public IReadOnlyList<WatchedProcess> Processes()
    {
        var processes = new List<WatchedProcess> { new("bench", Environment.ProcessId) };
        if (_app is null)
        {
            return processes;
        }

        var names = new Dictionary<int, string>();
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
                var name = service
                    ?? (command.Contains("redis-server", StringComparison.Ordinal) || command.Contains("GarnetServer", StringComparison.Ordinal) ? "redis"
                    : command.Contains("monitor-process", StringComparison.Ordinal) ? "dcp-monitor"
                    : command.Contains("run-controllers", StringComparison.Ordinal) ? "dcp-controllers"
                    : command.Contains("start-apiserver", StringComparison.Ordinal) ? "dcp-apiserver"
                    : Path.GetFileName(command.Split(' ')[0]));
                names[pid] = name;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        // DCP runs a monitor per process: number the names that repeat so every process has its own row.
        foreach (var group in names.GroupBy(n => n.Value).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var index = 0;
            foreach (var (pid, name) in group.OrderBy(n => n.Key))
            {
                processes.Add(new WatchedProcess(group.Count() == 1 ? name : $"{name}-{index++}", pid));
            }
        }
        return processes;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}
