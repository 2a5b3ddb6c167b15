using System.Globalization;

namespace Chat.Bench;

/// <summary>The bench's command line; every figure has a default sized for a 2-core box.</summary>
public sealed record BenchOptions
{
    public bool Smoke { get; init; }
    public bool Soak { get; init; }
    public Uri? GatewayUrl { get; init; }
    public Uri? GatewayHttp2Url { get; init; }
    public int Streams { get; init; } = 100;
    public int Tokens { get; init; } = 50;
    public int IntervalMs { get; init; } = 50;
    public int TimeToFirstTokenMs { get; init; }
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);
    public int SingleClientTurns { get; init; } = 20;
    public int IdleStreams { get; init; } = 200;
    public string OutputDirectory { get; init; } = ".bench";
    public string[] Transports { get; init; } = ["rest", "streaming", "sse", "websocket", "grpc"];
    public string[] Scenarios { get; init; } = ["single", "load", "idle"];
    public string[] IdleKinds { get; init; } = ["websocket", "grpc"];
    public TimeSpan IdleHold { get; init; } = TimeSpan.FromSeconds(3);
    public string[] Arms { get; init; } = ["A0", "A1", "A2"];
    public bool DotnetRunHost { get; init; }
    public TimeSpan LoadWarmUp { get; init; } = TimeSpan.FromSeconds(30);
    public string Telemetry { get; init; } = "production";
    public bool LagTrace { get; init; }
    public IReadOnlyDictionary<string, string> ServiceEnvironment { get; init; } = new Dictionary<string, string>();

    public const string Usage = """
        Chat.Bench: what each transport and each hop costs (docs/performance.md).

          dotnet run -c Release --project Chat.Bench -- [options]
          dotnet run -c Release --project Chat.Bench -- soak [options]   (defaults: 200 streams, 30m, 20 tokens × 100 ms)
          dotnet run -c Release --project Chat.Bench -- micro [BenchmarkDotNet options]

          --smoke               seconds, small counts; exit code 1 on lost/reordered tokens or errors
          --url <gateway>       attach to a running gateway (HTTP/1.1 port) instead of starting the graph; A2 only
          --grpc-url <gateway>  the gateway's h2c port when attached (default: <url> host, port 50051)
          --streams <n>         concurrent active streams in the load scenario (default 100)
          --tokens <n>          tokens per reply (Llm:Offline:ReplyTokens, default 50)
          --interval-ms <n>     inter-token delay of the offline model (default 50 = 20 tok/s)
          --ttft-ms <n>         the offline model's time to first token (default 0: pure plumbing)
          --turns <n>           turns per arm in the single-client scenario (default 20)
          --idle-streams <n>    idle WebSocket connections and gRPC Chat streams held open through the gateway (default 200; 0 = skip)
          --duration <t>        load scenario length: 20s, 2m (default 20s)
          --warmup <t>          the load scenario's unmeasured warm-up at the same rate (default 30s: at 500 streams the
                                runtime is still compiling hot code to its final tier ~30 s in; 0 = none)
          --transports <list>   comma-separated subset of rest,streaming,sse,websocket,grpc
          --scenarios <list>    comma-separated subset of single,load,idle (default all three)
          --idle-kinds <list>   idle streams to open: websocket,grpc,sse (default websocket,grpc; sse streams are chat
                                turns, so give the model a slow pacing, e.g. --ttft-ms 600000)
          --hold <t>            how long the idle streams are held open, checked every 30 s (default 3s)
          --arms <list>         comma-separated subset of A0,A1,A2,A2n (default A0,A1,A2; A2 alone puts every stream
                                through the gateway)
          --nginx               adds the peer arm A2n: nginx in front of the same transports (installed with apt as root,
                                else skipped with the reason)
          --dotnet-run-host     starts the services through Aspire's default `dotnet run` host instead of their built
                                output (to measure what the AppHost's WithBuiltOutputLaunch saves)
          --telemetry <mode>    how the services export telemetry (to the bench's own collector): production (the
                                SDK's intervals, default), aspire (every second, as under `dotnet run`), off
          --env <NAME=value>    an environment variable for every service (repeatable; A/B runs of a runtime setting)
          --lag-trace           also writes lag.txt: each measured token's arrival (Unix µs) and lag (µs)
          --out <dir>           where bench.json and bench.svg go (default .bench)
        """;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--smoke" => options with
                {
                    Smoke = true, Streams = 10, Tokens = 10, IntervalMs = 20, SingleClientTurns = 3,
                    Duration = TimeSpan.FromSeconds(3), IdleStreams = 20, IdleHold = TimeSpan.FromSeconds(1), LoadWarmUp = TimeSpan.Zero,
                },
                "soak" when i == 0 => options with
                {
                    Soak = true, Streams = 200, Tokens = 20, IntervalMs = 100, Duration = TimeSpan.FromMinutes(30),
                },
                "--url" => options with { GatewayUrl = new Uri(Next()) },
                "--grpc-url" => options with { GatewayHttp2Url = new Uri(Next()) },
                "--streams" => options with { Streams = Int(Next()) },
                "--tokens" => options with { Tokens = Int(Next()) },
                "--interval-ms" => options with { IntervalMs = Int(Next()) },
                "--ttft-ms" => options with { TimeToFirstTokenMs = Int(Next()) },
                "--turns" => options with { SingleClientTurns = Int(Next()) },
                "--idle-streams" => options with { IdleStreams = Int(Next()) },
                "--duration" => options with { Duration = ParseDuration(Next()) },
                "--warmup" => options with { LoadWarmUp = ParseDuration(Next()) },
                "--transports" => options with { Transports = List(Next()) },
                "--out" => options with { OutputDirectory = Next() },
                "--scenarios" => options with { Scenarios = List(Next()) },
                "--idle-kinds" => options with { IdleKinds = List(Next()) },
                "--hold" => options with { IdleHold = ParseDuration(Next()) },
                "--arms" => options with { Arms = List(Next()) },
                "--nginx" => options with { Arms = [.. options.Arms.Append("A2n").Distinct()] },
                "--dotnet-run-host" => options with { DotnetRunHost = true },
                "--lag-trace" => options with { LagTrace = true },
                "--telemetry" => options with { Telemetry = Next() },
                "--env" => options with
                {
                    ServiceEnvironment = new Dictionary<string, string>(options.ServiceEnvironment)
                    {
                        [Next().Split('=', 2)[0]] = args[i].Split('=', 2) is [_, var value] ? value : throw new ArgumentException("--env needs NAME=value."),
                    },
                },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'."),
            };
        }

        return options;
    }

    private static string[] List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int Int(string value) => int.Parse(value, CultureInfo.InvariantCulture);

    private static TimeSpan ParseDuration(string value) => value[^1] switch
    {
        's' => TimeSpan.FromSeconds(double.Parse(value[..^1], CultureInfo.InvariantCulture)),
        'm' => TimeSpan.FromMinutes(double.Parse(value[..^1], CultureInfo.InvariantCulture)),
        _ => TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture)),
    };
}
