extern alias apphost;
using Chat.Hosting;
using Chat.Hosting.Testing;

namespace Chat.Bench;

/// <summary>
/// The system under test: the whole graph started through the AppHost's testing entry point (one replica of each
/// service, the offline model in deterministic pacing), or a running gateway the bench attaches to (A2 only).
/// </summary>
public sealed class BenchSystem : IAsyncDisposable
{
    public static readonly string[] Resources = ["llm", "rest", "streaming", "sse", "websocket", "grpc", "gateway"];

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
        // Services inherit the AppHost's environment: log at Warning so console logging is not what we measure.
        Environment.SetEnvironmentVariable("Logging__LogLevel__Default", "Warning");
        Environment.SetEnvironmentVariable("Logging__LogLevel__Microsoft", "Warning");
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Program>(
            ["--replicas", "llm=1,rest=1,streaming=1,sse=1,websocket=1,grpc=1"],
            app =>
            {
                app.Configuration["Llm:Provider"] = "offline";
                app.Configuration["Llm:Offline:TimeToFirstTokenMs"] = options.TimeToFirstTokenMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
                app.Configuration["Llm:Offline:InterTokenDelayMs"] = options.IntervalMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
                app.Configuration["Llm:Offline:ReplyTokens"] = options.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture);
                // Slow pacing for idle streams must not trip the model idle timeout (a silent model ends the turn).
                var silence = TimeSpan.FromMilliseconds(2.0 * (options.TimeToFirstTokenMs + options.IntervalMs));
                if (silence > TimeSpan.FromMinutes(2))
                {
                    app.Configuration["Llm:ModelIdleTimeout"] = silence.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
                    // …nor the transports' deadline for a whole turn (an idle SSE stream is a turn that has not answered yet).
                    var turn = TimeSpan.FromMinutes(Math.Min(60, 2 * silence.TotalMinutes + 1));
                    app.Configuration["Transport:TurnTimeout"] = turn.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
                }
                app.Configuration["Gateway:Limits:MaxConcurrentStreamsPerClient"] = "0"; // the bench is one client with thousands of streams
            },
            cancellationToken);
        var app = await builder.BuildAsync(cancellationToken);
        try
        {
            await app.StartAsync(cancellationToken);
            await app.WaitForAllResourcesHealthyAsync(cancellationToken).WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
            return new BenchSystem
            {
                _app = app,
                Gateway = app.GetEndpoint("gateway", "http"),
                GatewayHttp2 = app.GetEndpoint("gateway", "http2"),
                Llm = app.GetEndpoint("llm-0"),
                LlmInternalApiKey = app.GetInternalApiKey("llm"),
                Transports = Resources[1..^1].ToDictionary(r => r, r => app.GetEndpoint($"{r}-0")),
                RedisConnection = app.GetConnectionString("redis"),
            };
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>Replica processes (llm-0, sse-0, gateway-0, redis…) and the bench client itself.</summary>
    public IReadOnlyList<WatchedProcess> Processes()
    {
        var processes = new List<WatchedProcess> { new("bench", Environment.ProcessId) };
        if (_app is not null)
        {
            processes.AddRange(_app.Resources.GetResources()
                .Where(r => r.ProcessId is not null)
                .Select(r => new WatchedProcess(r.Resource, r.ProcessId!.Value)));
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
