using System.Diagnostics;
using System.Net.WebSockets;
using Chat.Bench.Clients;
using Chat.Contracts.Public;
using Grpc.Core;
using Spectre.Console;

namespace Chat.Bench;

/// <summary>One arm: A0 (LLM service directly), A1 (a transport directly) or A2 (gateway → transport).</summary>
public sealed record Arm(string Name, string Transport, ITurnClient Client);

/// <summary>The figures of one scenario: per arm, per process, and the Redis commands it cost.</summary>
public sealed record ScenarioResult(
    string Name, string Description, double Seconds, IReadOnlyList<ArmFigures> Arms, IReadOnlyList<ProcessFigures> Processes,
    RedisFigures? Redis, IReadOnlyDictionary<string, object>? Extra = null)
{
    public long Tokens => Arms.Sum(a => a.Tokens);
    public long FunctionalErrors => Arms.Sum(a => a.Lost + a.Reordered + a.Errors);
}

/// <summary>Runs the scenarios over every arm, interleaved so the box's noise falls on all arms alike.</summary>
public sealed class BenchRunner(BenchOptions options, BenchSystem system, BenchConnections connections)
{
    private readonly Random _random = new(8);

    public IReadOnlyList<Arm> BuildArms()
    {
        var arms = new List<Arm>();
        if (system.Llm is { } llm && options.Arms.Contains("A0"))
        {
            arms.Add(new Arm("A0", "llm-grpc", new LlmDirectClient(BenchConnections.Channel(llm), system.LlmInternalApiKey)));
        }

        var gatewayGrpc = BenchConnections.Channel(system.GatewayHttp2);
        foreach (var transport in options.Transports)
        {
            if (system.Transports.TryGetValue(transport, out var direct) && options.Arms.Contains("A1"))
            {
                arms.Add(new Arm("A1", transport, Client(transport, direct, direct)));
            }

            if (options.Arms.Contains("A2"))
            {
                arms.Add(new Arm("A2", transport, Client(transport, new Uri(system.Gateway, $"{transport}/"), system.GatewayHttp2)));
            }

            if (system.Nginx is { } nginx)
            {
                arms.Add(new Arm("A2n", transport, Client(transport, new Uri(nginx.Http, $"{transport}/"), nginx.Http2)));
            }
        }

        return arms;

        ITurnClient Client(string transport, Uri httpBase, Uri http2) => transport switch
        {
            "rest" => new RestClient(connections.Http, httpBase),
            "streaming" => new LineStreamClient(connections.Http, httpBase, sse: false),
            "sse" => new LineStreamClient(connections.Http, httpBase, sse: true),
            "websocket" => new WebSocketClient(WebSocketUri(new Uri(httpBase, "ws"))),
            "grpc" => new PublicGrpcClient(http2 == system.GatewayHttp2 ? gatewayGrpc : BenchConnections.Channel(http2)),
            _ => throw new ArgumentException($"Unknown transport '{transport}'."),
        };
    }

    private static Uri WebSocketUri(Uri http) => new UriBuilder(http) { Scheme = http.Scheme == "https" ? "wss" : "ws" }.Uri;

    /// <summary>Warm-up: JIT, connection pools, the model's first sessions. Errors here are reported, figures not.</summary>
    public async Task WarmUpAsync(IReadOnlyList<Arm> arms, CancellationToken cancellationToken)
    {
        var figures = arms.Select(a => new ArmFigures(a.Name, a.Transport)).ToList();
        for (var round = 0; round < (options.Smoke ? 1 : 5); round++)
        {
            await Task.WhenAll(arms.Select((arm, i) => RunOneAsync(arm, figures[i], Stopwatch.GetTimestamp(), cancellationToken)));
        }
    }

    /// <summary>c = 1: one turn at a time, arms in a new random order every round.</summary>
    public async Task<ScenarioResult> SingleClientAsync(IReadOnlyList<Arm> arms, CancellationToken cancellationToken)
    {
        var figures = arms.Select(a => new ArmFigures(a.Name, a.Transport)).ToList();
        var meter = new ProcessMeter(system.Processes());
        var redis = await RedisFigures.SampleAsync(system.RedisConnection);
        var telemetry = (system.Telemetry?.Requests ?? 0, system.Telemetry?.Bytes ?? 0);
        var started = Stopwatch.GetTimestamp();
        for (var round = 0; round < options.SingleClientTurns; round++)
        {
            foreach (var i in Enumerable.Range(0, arms.Count).OrderBy(_ => _random.Next()))
            {
                await RunOneAsync(arms[i], figures[i], Stopwatch.GetTimestamp(), cancellationToken);
            }

            Progress("single", $"round {round + 1}/{options.SingleClientTurns}");
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new ScenarioResult("single", $"c=1, {options.SingleClientTurns} turns per arm, {options.Tokens} tokens, {options.IntervalMs} ms/token",
            seconds, figures, meter.Stop(TokensThrough(figures)), await RedisFigures.DeltaAsync(redis, system.RedisConnection, figures.Sum(f => f.Turns), figures.Sum(f => f.Tokens)),
            TelemetryFigures(telemetry, figures.Sum(f => f.Tokens)));
    }

    /// <summary>
    /// Open loop: sessions start at a fixed rate chosen so about <c>--streams</c> are active at once, arms round-robin.
    /// TTFT is measured from each session's intended start, so a stalled client or server cannot hide its queue
    /// (coordinated omission).
    /// </summary>
    public async Task<ScenarioResult> OpenLoopAsync(IReadOnlyList<Arm> arms, CancellationToken cancellationToken, TimeSpan? duration = null)
    {
        var figures = arms.Select(a => new ArmFigures(a.Name, a.Transport)).ToList();
        var replySeconds = (options.TimeToFirstTokenMs + (double)options.Tokens * options.IntervalMs) / 1000;
        var rate = options.Streams / Math.Max(replySeconds, 0.05);
        var sessions = (int)Math.Max(arms.Count, rate * (duration ?? options.Duration).TotalSeconds);
        var meter = new ProcessMeter(system.Processes());
        var redis = await RedisFigures.SampleAsync(system.RedisConnection);
        var telemetry = (system.Telemetry?.Requests ?? 0, system.Telemetry?.Bytes ?? 0);
        var started = Stopwatch.GetTimestamp();
        var running = new List<Task>(sessions);
        var active = 0;
        var order = Enumerable.Range(0, arms.Count).ToArray();
        var lastProgress = started;
        for (var i = 0; i < sessions; i++)
        {
            if (i % arms.Count == 0)
            {
                _random.Shuffle(order);
            }

            var intended = started + Ticks.FromMilliseconds(i * 1000.0 / rate);
            var wait = Ticks.ToMicroseconds(intended - Stopwatch.GetTimestamp());
            if (wait > 1000)
            {
                await Task.Delay(TimeSpan.FromMicroseconds(wait), cancellationToken);
            }

            var arm = order[i % arms.Count];
            Interlocked.Increment(ref active);
            running.Add(Task.Run(async () =>
            {
                try
                {
                    await RunOneAsync(arms[arm], figures[arm], intended, cancellationToken);
                }
                finally
                {
                    Interlocked.Decrement(ref active);
                }
            }, cancellationToken));
            if (Stopwatch.GetElapsedTime(lastProgress) > TimeSpan.FromSeconds(2))
            {
                lastProgress = Stopwatch.GetTimestamp();
                Progress("load", $"{i + 1}/{sessions} sessions started, {Volatile.Read(ref active)} active, {figures.Sum(f => f.Tokens):N0} tokens");
            }
        }

        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(60 + replySeconds * 4), cancellationToken);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new ScenarioResult("load",
            $"open loop, {rate:F1} sessions/s ≈ {options.Streams} active streams, {options.Tokens} tokens, {options.IntervalMs} ms/token, {options.Duration.TotalSeconds:F0} s",
            seconds, figures, meter.Stop(TokensThrough(figures)),
            await RedisFigures.DeltaAsync(redis, system.RedisConnection, figures.Sum(f => f.Turns), figures.Sum(f => f.Tokens)),
            new Dictionary<string, object>(TelemetryFigures(telemetry, figures.Sum(f => f.Tokens)))
            {
                ["sessions_per_second"] = Math.Round(rate, 2),
                ["sessions"] = sessions,
            });
    }

    /// <summary>
    /// Connection scale: M idle streams of each kind held open through the gateway for <c>--hold</c>: WebSocket
    /// connections (past `connected`), gRPC Chat streams (past a PING/PONG, so open end to end) and, with a slowly paced
    /// model, SSE chat streams (past their first event). Every 30 s of the hold each stream is checked to still be
    /// open; the RSS each process gains per stream, and the streams dropped, are the figures.
    /// </summary>
    public async Task<ScenarioResult> IdleConnectionsAsync(CancellationToken cancellationToken)
    {
        var before = system.Processes().ToDictionary(p => p.Name, p => p.Read());
        var sockets = new List<ClientWebSocket>();
        var calls = new List<(AsyncDuplexStreamingCall<ChatRequest, ChatResponse> Call, Task<bool> Next)>();
        var sseStreams = new List<(HttpResponseMessage Response, Task<int> Next)>();
        var errors = new ArmFigures("A2", "idle");
        var started = Stopwatch.GetTimestamp();
        var grpc = new ChatService.ChatServiceClient(BenchConnections.Channel(system.GatewayHttp2));
        var wsUri = WebSocketUri(new Uri(system.Gateway, "websocket/ws"));
        var sseUri = new Uri(system.Gateway, "sse/chat/stream");
        var kinds = options.IdleKinds;
        try
        {
            for (var i = 0; i < options.IdleStreams; i++)
            {
                try
                {
                    if (kinds.Contains("websocket"))
                    {
                        var socket = new ClientWebSocket();
                        await socket.ConnectAsync(wsUri, cancellationToken);
                        await socket.ReceiveAsync(new byte[8192], cancellationToken); // `connected`
                        sockets.Add(socket);
                    }

                    if (kinds.Contains("grpc"))
                    {
                        var call = grpc.Chat(cancellationToken: cancellationToken);
                        await call.RequestStream.WriteAsync(new ChatRequest { Type = ChatRequest.Types.MessageType.Ping }, cancellationToken);
                        await call.ResponseStream.MoveNext(cancellationToken); // PONG: the stream is open end to end
                        calls.Add((call, call.ResponseStream.MoveNext(cancellationToken)));
                    }

                    if (kinds.Contains("sse"))
                    {
                        sseStreams.Add(await OpenSseAsync(sseUri, cancellationToken));
                    }
                }
                catch (Exception e) when (e is WebSocketException or RpcException or IOException or HttpRequestException)
                {
                    errors.Record(new TurnObservation(0) { Error = e.Message }, 0);
                }

                if ((i + 1) % 100 == 0)
                {
                    Progress("idle", $"{i + 1}/{options.IdleStreams} × [{string.Join(", ", kinds)}] streams open");
                }
            }

            var opened = sockets.Count + calls.Count + sseStreams.Count;
            var holdUntil = Stopwatch.GetTimestamp() + Ticks.FromMilliseconds(options.IdleHold.TotalMilliseconds);
            int Dropped() =>
                sockets.Count(s => s.State != WebSocketState.Open) + calls.Count(c => c.Next.IsCompleted) + sseStreams.Count(s => s.Next.IsCompleted);
            long peakRss = 0;
            while (true)
            {
                var left = Ticks.ToMicroseconds(holdUntil - Stopwatch.GetTimestamp());
                peakRss = Math.Max(peakRss, system.Processes().Where(p => BenchSystem.IsService(p.Name)).Sum(p => p.Read().RssBytes));
                if (left <= 0)
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromMicroseconds(Math.Min(left, 30_000_000)), cancellationToken);
                Progress("idle", $"holding {opened:N0} streams, {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s, {Dropped()} dropped, " +
                    $"services RSS {peakRss / 1048576.0:F0} MiB");
            }

            var dropped = Dropped();
            for (var i = 0; i < dropped; i++)
            {
                errors.Record(new TurnObservation(0) { Error = "idle stream dropped during the hold" }, 0);
            }

            var samples = system.Processes().Where(p => before.ContainsKey(p.Name)).ToDictionary(p => p.Name, p => p.ReadWithPss());
            var processes = samples.Select(pair => new ProcessFigures(pair.Key, pair.Value.CpuSeconds - before[pair.Key].CpuSeconds, pair.Value.RssBytes, 0, 0)).ToList();
            // The processes the idle streams pass through: the gateway, the transports of the kinds held, the LLM service.
            var onPath = processes.Where(p => p.Name is "gateway" or "llm" || kinds.Any(k => p.Name == k || p.Name.StartsWith(k + "-", StringComparison.Ordinal))).ToList();
            var extra = new Dictionary<string, object>
            {
                ["open_websockets"] = sockets.Count,
                ["open_grpc_streams"] = calls.Count,
                ["open_sse_streams"] = sseStreams.Count,
                ["held_seconds"] = options.IdleHold.TotalSeconds,
                ["dropped_during_hold"] = dropped,
                ["services_rss_bytes"] = processes.Where(p => BenchSystem.IsService(p.Name)).Sum(p => p.RssBytes),
                ["services_pss_bytes"] = samples.Where(p => BenchSystem.IsService(p.Key)).Sum(p => p.Value.PssBytes),
                ["path_processes"] = onPath.Select(p => p.Name).ToList(),
                ["path_rss_bytes"] = onPath.Sum(p => p.RssBytes),
                ["path_pss_bytes"] = onPath.Sum(p => samples[p.Name].PssBytes),
                ["services_peak_rss_bytes"] = peakRss,
                ["rss_delta_bytes"] = processes.ToDictionary(p => p.Name, p => p.RssBytes - before[p.Name].RssBytes),
                ["rss_bytes_per_stream"] = processes.ToDictionary(
                    p => p.Name, p => opened == 0 ? 0 : (p.RssBytes - before[p.Name].RssBytes) / opened),
            };
            return new ScenarioResult("idle",
                $"{options.IdleStreams} idle streams of each of [{string.Join(", ", kinds)}] through the gateway, held {options.IdleHold.TotalSeconds:F0} s",
                Stopwatch.GetElapsedTime(started).TotalSeconds, [errors], processes, null, extra);
        }
        finally
        {
            foreach (var (call, _) in calls)
            {
                call.Dispose();
            }

            foreach (var socket in sockets)
            {
                socket.Abort();
                socket.Dispose();
            }

            foreach (var (response, _) in sseStreams)
            {
                response.Dispose();
            }
        }
    }

    /// <summary>Reads (and drops) heartbeats and anything else until the stream ends: completion means a dropped stream.</summary>
    private static async Task<int> ReadUntilEndAsync(Stream body, byte[] buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                total += read;
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException or ObjectDisposedException or OperationCanceledException)
        {
        }

        return total;
    }

    /// <summary>An SSE chat stream past its first event; the returned task completes when the stream ends or fails.</summary>
    private async Task<(HttpResponseMessage Response, Task<int> Next)> OpenSseAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = RestClient.JsonBody() };
        var response = await connections.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        try
        {
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[4096];
            var read = 0;
            // The first frame (session_info) ends with a blank line.
            while (read < buffer.Length && buffer.AsSpan(0, read).IndexOf("\n\n"u8) < 0)
            {
                var n = await body.ReadAsync(buffer.AsMemory(read), cancellationToken);
                if (n == 0)
                {
                    throw new IOException("The SSE stream ended before its first event.");
                }

                read += n;
            }

            return (response, ReadUntilEndAsync(body, buffer, cancellationToken));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>What the services exported to the bench's collector since <paramref name="start"/> (requests, bytes).</summary>
    private Dictionary<string, object> TelemetryFigures((long Requests, long Bytes) start, long tokens)
    {
        if (system.Telemetry is not { } sink)
        {
            return [];
        }

        var bytes = sink.Bytes - start.Bytes;
        return new Dictionary<string, object>
        {
            ["telemetry"] = options.Telemetry,
            ["telemetry_exports"] = sink.Requests - start.Requests,
            ["telemetry_bytes"] = bytes,
            ["telemetry_bytes_per_token"] = tokens == 0 ? 0 : Math.Round((double)bytes / tokens, 1),
        };
    }

    /// <summary>Tokens that passed through each process: all of them for the client, llm and Redis; A2's for the gateway.</summary>
    internal static Func<string, long> TokensThrough(IReadOnlyList<ArmFigures> figures) => process => process switch
    {
        "bench" or "llm" or "redis" => figures.Sum(f => f.Tokens),
        "gateway" => figures.Where(f => f.Arm == "A2").Sum(f => f.Tokens),
        "nginx" => figures.Where(f => f.Arm == "A2n").Sum(f => f.Tokens),
        _ => figures.Where(f => f.Transport == process).Sum(f => f.Tokens),
    };

    internal async Task RunOneAsync(Arm arm, ArmFigures figures, long intendedStart, CancellationToken cancellationToken)
    {
        var turn = new TurnObservation(intendedStart);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60 + (options.TimeToFirstTokenMs + options.Tokens * options.IntervalMs) / 1000.0 * 4));
            await arm.Client.RunTurnAsync(turn, timeout.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            turn.Error = $"{e.GetType().Name}: {e.Message}{(e.InnerException is { } inner ? $" ({inner.GetType().Name}: {inner.Message})" : "")}";
        }

        turn.EndTicks = Stopwatch.GetTimestamp();
        figures.Record(turn, options.Tokens);
    }

    private static void Progress(string scenario, string text) =>
        AnsiConsole.MarkupLine($"[grey]{DateTime.UtcNow:HH:mm:ss}[/] [blue]{scenario}[/] {Markup.Escape(text)}");
}

/// <summary>Redis commands a scenario cost (INFO commandstats before and after; commands run by scripts included).</summary>
public sealed record RedisFigures(long Commands, double CommandsPerTurn, double CommandsPerToken, IReadOnlyDictionary<string, long> ByCommand)
{
    /// <summary>Time Redis spent inside scripts (evalsha), µs; their own commands' time is part of it.</summary>
    public long MicrosecondsInScripts { get; init; }

    /// <summary>Time Redis spent inside all commands (script commands counted twice: in the script and as themselves), µs.</summary>
    public long MicrosecondsInCommands { get; init; }

    /// <summary>Script calls (round trips of the turn's bookkeeping) per turn.</summary>
    public double CallsPerTurn { get; init; }

    public static async Task<Dictionary<string, long>?> SampleAsync(string? connection)
    {
        if (connection is null || !File.Exists("/usr/bin/redis-cli"))
        {
            return null;
        }

        var endpoint = connection.Split(',')[0];
        var separator = endpoint.LastIndexOf(':');
        var start = new ProcessStartInfo("/usr/bin/redis-cli", ["-h", endpoint[..separator], "-p", endpoint[(separator + 1)..], "INFO", "commandstats"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var stats = new Dictionary<string, long>();
        foreach (var line in output.Split('\n'))
        {
            // cmdstat_get:calls=12,usec=…
            if (line.StartsWith("cmdstat_", StringComparison.Ordinal) && line.IndexOf(":calls=", StringComparison.Ordinal) is var colon and > 0)
            {
                var calls = line[(colon + 7)..];
                stats[line[8..colon]] = long.Parse(calls[..calls.IndexOf(',')], System.Globalization.CultureInfo.InvariantCulture);
                if (calls.IndexOf("usec=", StringComparison.Ordinal) is var at and > 0)
                {
                    var usec = calls[(at + 5)..];
                    stats["usec:" + line[8..colon]] = long.Parse(usec[..usec.IndexOf(',')], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        return stats;
    }

    public static async Task<RedisFigures?> DeltaAsync(Dictionary<string, long>? before, string? connection, long turns, long tokens)
    {
        var after = await SampleAsync(connection);
        if (before is null || after is null)
        {
            return null;
        }

        // INFO itself is counted; leave it out. Time spent inside commands (µs) is kept apart.
        var usec = after.Where(kv => kv.Key.StartsWith("usec:", StringComparison.Ordinal) && kv.Key != "usec:info")
            .Sum(kv => kv.Value - before.GetValueOrDefault(kv.Key));
        var scripts = after.GetValueOrDefault("usec:evalsha") - before.GetValueOrDefault("usec:evalsha");
        var delta = after.Where(kv => kv.Key != "info" && !kv.Key.StartsWith("usec:", StringComparison.Ordinal))
            .Select(kv => (kv.Key, Calls: kv.Value - before.GetValueOrDefault(kv.Key)))
            .Where(kv => kv.Calls > 0)
            .OrderByDescending(kv => kv.Calls)
            .ToDictionary(kv => kv.Key, kv => kv.Calls);
        var total = delta.Values.Sum();
        return new RedisFigures(total, turns == 0 ? 0 : Math.Round((double)total / turns, 2), tokens == 0 ? 0 : Math.Round((double)total / tokens, 3), delta)
        {
            MicrosecondsInScripts = scripts,
            MicrosecondsInCommands = usec,
            CallsPerTurn = turns == 0 ? 0 : Math.Round((double)delta.GetValueOrDefault("evalsha") / turns, 2),
        };
    }
}

