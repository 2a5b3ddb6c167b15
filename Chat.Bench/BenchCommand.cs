using Chat.Bench.Clients;
using Chat.Bench.Reporting;
using Spectre.Console;

namespace Chat.Bench;

/// <summary>The bench's one command: start (or attach to) the system, run the scenarios, write the table, JSON and SVG.</summary>
public static class BenchCommand
{
    /// <returns>0, or 2 when any token was lost or reordered or any turn failed (the smoke test's verdict).</returns>
    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.UtcNow;
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = 200; // tables stay readable in CI logs and files
        }

        var loadAtStart = LoadAverage();
        AnsiConsole.MarkupLine(Markup.Escape($"Chat.Bench: {options.Tokens} tokens × {options.IntervalMs} ms, {options.Streams} streams, load avg {loadAtStart:F1} on {Environment.ProcessorCount} cores"));
        await using var system = options.GatewayUrl is { } url
            ? BenchSystem.Attach(url, options.GatewayHttp2Url)
            : await BenchSystem.StartAsync(options, cancellationToken);
        AnsiConsole.MarkupLine(Markup.Escape($"system: gateway {system.Gateway} · h2c {system.GatewayHttp2}{(system.Attached ? " (attached: A2 only)" : $" · llm {system.Llm}")}"));
        var notes = new List<string>();
        IReadOnlyList<ProcessMemory>? memoryAtRest = null;
        if (!system.Attached)
        {
            // At rest: started and healthy, nothing asked of it yet; a few seconds for start-up work to settle.
            await Task.Delay(TimeSpan.FromSeconds(options.Smoke ? 1 : 10), cancellationToken);
            memoryAtRest = system.Memory();
            AnsiConsole.MarkupLine(Markup.Escape($"at rest: {memoryAtRest.Sum(m => m.Processes)} processes, RSS {memoryAtRest.Sum(m => m.RssBytes) / 1048576.0:F0} MiB, " +
                $"PSS {memoryAtRest.Sum(m => m.PssBytes) / 1048576.0:F0} MiB"));
        }

        if (options.Arms.Contains("A2n") && !system.Attached)
        {
            if (await system.StartNginxAsync(cancellationToken) is { } skipped)
            {
                notes.Add($"A2n (nginx) skipped: {skipped}");
                AnsiConsole.MarkupLine(Markup.Escape(notes[^1]));
            }
            else
            {
                AnsiConsole.MarkupLine(Markup.Escape($"nginx peer: {system.Nginx!.Http} · h2c {system.Nginx.Http2}"));
            }
        }

        // For profilers attaching from outside (perf record -p …): every process of the run, by role.
        Directory.CreateDirectory(options.OutputDirectory);
        await File.WriteAllLinesAsync(Path.Combine(options.OutputDirectory, "processes.txt"),
            system.Processes().SelectMany(p => p.Pids.Select(pid => $"{p.Name} {pid}")), cancellationToken);
        using var connections = new BenchConnections();
        var runner = new BenchRunner(options, system, connections);
        var arms = runner.BuildArms();
        if (options.Soak || options.Scenarios.Any(s => s is "single" or "load"))
        {
            // Idle streams alone need no warm-up, and with the slow pacing they use a warm-up turn would take minutes.
            await runner.WarmUpAsync(arms, cancellationToken);
        }
        if (options.Soak)
        {
            return await new SoakRunner(options, system, runner).RunAsync(arms, cancellationToken);
        }

        var scenarios = new List<ScenarioResult>();
        if (options.Scenarios.Contains("single"))
        {
            scenarios.Add(await runner.SingleClientAsync(arms, cancellationToken));
        }

        if (options.Scenarios.Contains("load"))
        {
            if (options.LoadWarmUp > TimeSpan.Zero)
            {
                // The same load, unmeasured: tiered JIT reaches its optimized code and the pools their size first.
                AnsiConsole.MarkupLine(Markup.Escape($"load warm-up: {options.LoadWarmUp.TotalSeconds:F0} s at the measured rate (not reported)"));
                await runner.OpenLoopAsync(arms, cancellationToken, options.LoadWarmUp);
            }

            LagTrace.Enabled = options.LagTrace;
            scenarios.Add(await runner.OpenLoopAsync(arms, cancellationToken));
        }

        if (options.Scenarios.Contains("idle") && options.IdleStreams > 0)
        {
            scenarios.Add(await runner.IdleConnectionsAsync(cancellationToken));
        }

        // After the scenarios, so the connections each caller holds to the next hop show (pooled, still open).
        var paths = system.Attached ? null : system.Paths(options.Transports);
        if (!system.Attached && !options.Smoke && memoryAtRest is not null)
        {
            // Idle again: what the application costs doing nothing (health probes, timers, telemetry), measured once
            // the scenarios are over and their code is compiled, after a few seconds for their ends to settle.
            await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
            var quiet = TimeSpan.FromSeconds(20);
            var processes = system.Processes();
            var before = processes.ToDictionary(p => p.Name, p => p.Read().CpuSeconds);
            await Task.Delay(quiet, cancellationToken);
            var cpu = processes.ToDictionary(p => p.Name, p => (p.Read().CpuSeconds - before[p.Name]) / quiet.TotalSeconds);
            memoryAtRest = memoryAtRest.Select(m => m with { CpuCoresAtRest = Math.Round(cpu.GetValueOrDefault(m.Name), 4) }).ToList();
            AnsiConsole.MarkupLine(Markup.Escape($"idle after the scenarios: CPU {memoryAtRest.Sum(m => m.CpuCoresAtRest) * 1000:F0} ms/s " +
                $"(the bench and its AppHost {cpu.GetValueOrDefault("bench") * 1000:F0} ms/s)"));
        }

        var report = new BenchReport(startedAt, $"{Environment.ProcessorCount} cores, {Environment.OSVersion.VersionString}", loadAtStart, LoadAverage(), options,
            scenarios.Select(BenchReport.Scenario).ToList())
        {
            Paths = paths,
            MemoryAtRest = memoryAtRest,
            Notes = notes,
        };
        report.WriteConsole();
        Directory.CreateDirectory(options.OutputDirectory);
        var json = Path.Combine(options.OutputDirectory, "bench.json");
        var svg = Path.Combine(options.OutputDirectory, "bench.svg");
        report.WriteJson(json);
        await File.WriteAllTextAsync(svg, SvgChart.Render(report), cancellationToken);
        AnsiConsole.MarkupLine(Markup.Escape($"wrote {json} and {svg}"));
        if (options.LagTrace)
        {
            var lags = Path.Combine(options.OutputDirectory, "lag.txt");
            await LagTrace.WriteAsync(lags, cancellationToken);
            AnsiConsole.MarkupLine(Markup.Escape($"wrote {lags}"));
        }

        if (report.FunctionalErrors > 0)
        {
            AnsiConsole.MarkupLine($"[red]{report.FunctionalErrors} lost or reordered tokens or failed turns[/]");
            return 2;
        }

        return 0;
    }

    private static double LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }
}
