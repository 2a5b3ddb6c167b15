using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;

namespace Chat.Bench;

/// <summary>One sample of the soak: elapsed time, what was delivered so far, and each process's RSS.</summary>
public sealed record SoakSample(double Seconds, long Turns, long Tokens, long Errors, long Lost, IReadOnlyDictionary<string, long> RssBytes);

/// <summary>RSS of one process after warm-up and at the end, and its growth in between.</summary>
public sealed record SoakGrowth(string Process, long WarmRssBytes, long EndRssBytes, double GrowthPercent);

/// <summary>
/// The soak (docs/reliability.md): <c>--streams</c> clients, each running turns back to back through the gateway
/// (A2) on one transport (the transports round-robin over the clients) for <c>--duration</c>, RSS of every process
/// sampled every 30 s. Memory is judged after a warm-up of half the run (at most 15 min): the median of the three
/// samples just after it against the median of the last three taken under load (the sample after the clients stop
/// is reported, not judged: 200 streams ending at once is a burst of its own). Half, because in the first 30-minute
/// run RSS kept settling for ~15 minutes (GC and allocator working set growing to the load) while the live managed
/// heap stayed flat (gcdump, docs/reliability.md, Soak); the figures for a 5-minute warm-up are printed as well. Passes with no error, no lost or reordered token and
/// under 5 % RSS growth in every service process (Redis is reported, not judged: it holds the sessions the soak
/// creates, which is data, not a leak).
/// </summary>
public sealed class SoakRunner(BenchOptions options, BenchSystem system, BenchRunner runner)
{
    public const double MaxGrowthPercent = 5;
    private static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(30);

    public async Task<int> RunAsync(IReadOnlyList<Arm> arms, CancellationToken cancellationToken)
    {
        var gatewayArms = arms.Where(a => a.Name == "A2").ToList();
        var figures = gatewayArms.Select(a => new ArmFigures(a.Name, a.Transport)).ToList();
        var processes = system.Processes();
        var meter = new ProcessMeter(processes);
        var samples = new List<SoakSample>();
        var started = Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(options.Duration);

        SoakSample Sample() => new(
            Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 1),
            figures.Sum(f => f.Turns), figures.Sum(f => f.Tokens), figures.Sum(f => f.Errors), figures.Sum(f => f.Lost + f.Reordered),
            processes.ToDictionary(p => p.Name, p => p.Read().RssBytes));

        var clients = Enumerable.Range(0, options.Streams).Select(i => Task.Run(async () =>
        {
            var arm = i % gatewayArms.Count;
            // Spread the first turns over one reply so the clients do not move in lockstep.
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(Math.Max(1, options.Tokens * options.IntervalMs))), stop.Token)
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            while (!stop.IsCancellationRequested)
            {
                await runner.RunOneAsync(gatewayArms[arm], figures[arm], Stopwatch.GetTimestamp(), cancellationToken);
            }
        }, cancellationToken)).ToList();

        samples.Add(Sample());
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(SampleEvery, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var sample = Sample();
            samples.Add(sample);
            var rss = string.Join(", ", sample.RssBytes.Select(r => $"{r.Key} {r.Value / 1048576.0:F0}"));
            AnsiConsole.MarkupLine(Markup.Escape(
                $"{DateTime.UtcNow:HH:mm:ss} soak {sample.Seconds / 60:F1} min: {sample.Turns:N0} turns, {sample.Tokens:N0} tokens, {sample.Errors} errors, {sample.Lost} lost · RSS MiB {rss}"));
        }

        await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(60 + options.Tokens * options.IntervalMs / 1000.0 * 4), cancellationToken);
        samples.Add(Sample());
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cpu = meter.Stop(BenchRunner.TokensThrough(figures)); // every soak arm is A2: the gateway carries all tokens
        var underLoad = samples.Take(samples.Count - 1).ToList();
        var early = Growth(underLoad, TimeSpan.FromSeconds(300));
        AnsiConsole.MarkupLine(Markup.Escape("RSS growth after a 5-minute warm-up: " +
            string.Join(", ", early.Select(g => $"{g.Process} {g.GrowthPercent:+0.0;-0.0} %"))));
        var growth = Growth(underLoad, TimeSpan.FromSeconds(Math.Min(options.Duration.TotalSeconds / 2, 900)));
        return Report(figures, samples, growth, cpu, seconds);
    }

    public static List<SoakGrowth> Growth(IReadOnlyList<SoakSample> samples, TimeSpan warmUpTime)
    {
        var warmUp = warmUpTime.TotalSeconds;
        var afterWarmUp = samples.Where(s => s.Seconds >= warmUp).ToList();
        var warm = afterWarmUp.Take(3).ToList();
        var end = samples.TakeLast(3).ToList();
        return samples[0].RssBytes.Keys.Select(process =>
        {
            var warmRss = Median(warm.Select(s => s.RssBytes[process]));
            var endRss = Median(end.Select(s => s.RssBytes[process]));
            return new SoakGrowth(process, warmRss, endRss, warmRss > 0 ? Math.Round((endRss - warmRss) * 100.0 / warmRss, 2) : 0);
        }).ToList();

        static long Median(IEnumerable<long> values)
        {
            var sorted = values.Order().ToList();
            return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
        }
    }

    private int Report(List<ArmFigures> figures, List<SoakSample> samples, List<SoakGrowth> growth, List<ProcessFigures> cpu, double seconds)
    {
        var table = new Table().AddColumns("transport", "turns", "tokens", "errors", "lost", "reordered", "TTFT p50 / p99 ms", "lag p50 / p99 ms");
        foreach (var f in figures)
        {
            table.AddRow(f.Transport, $"{f.Turns:N0}", $"{f.Tokens:N0}", $"{f.Errors}", $"{f.Lost}", $"{f.Reordered}",
                $"{f.Ttft.GetValueAtPercentile(50) / 1000.0:F2} / {f.Ttft.GetValueAtPercentile(99) / 1000.0:F2}",
                f.Lag.TotalCount == 0 ? "–" : $"{f.Lag.GetValueAtPercentile(50) / 1000.0:F2} / {f.Lag.GetValueAtPercentile(99) / 1000.0:F2}");
        }

        AnsiConsole.Write(table);
        var memory = new Table().AddColumns("process", "RSS after warm-up MiB", "RSS at end MiB", "growth %", "CPU s", "CPU µs/token");
        foreach (var g in growth)
        {
            var c = cpu.FirstOrDefault(p => p.Name == g.Process);
            memory.AddRow(g.Process, $"{g.WarmRssBytes / 1048576.0:F1}", $"{g.EndRssBytes / 1048576.0:F1}", $"{g.GrowthPercent:F2}",
                $"{c?.CpuSeconds:F1}", $"{c?.CpuMicrosecondsPerToken:F0}");
        }

        AnsiConsole.Write(memory);
        var judged = growth.Where(g => g.Process is not ("redis" or "bench")).ToList();
        var errors = figures.Sum(f => f.Errors);
        var lost = figures.Sum(f => f.Lost + f.Reordered);
        var worst = judged.MaxBy(g => g.GrowthPercent);
        var passed = errors == 0 && lost == 0 && judged.All(g => g.GrowthPercent < MaxGrowthPercent);
        var verdict = $"soak {seconds / 60:F1} min, {options.Streams} streams: {figures.Sum(f => f.Turns):N0} turns, {figures.Sum(f => f.Tokens):N0} tokens " +
            $"({figures.Sum(f => f.Tokens) / seconds:F0}/s), {errors} errors, {lost} lost or reordered, worst RSS growth {worst?.Process} {worst?.GrowthPercent:F2} % → {(passed ? "PASS" : "FAIL")}";
        AnsiConsole.MarkupLine(Markup.Escape(verdict));
        foreach (var sample in figures.SelectMany(f => f.ErrorSamples).Take(5))
        {
            AnsiConsole.MarkupLine(Markup.Escape($"  error: {sample}"));
        }

        Directory.CreateDirectory(options.OutputDirectory);
        var path = Path.Combine(options.OutputDirectory, "soak.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new
        {
            options.Streams, options.Tokens, options.IntervalMs, DurationSeconds = seconds, Passed = passed, Verdict = verdict,
            Transports = figures.Select(f => new
            {
                f.Transport, f.Turns, f.Tokens, f.Errors, f.Lost, f.Reordered, f.ErrorSamples,
                TtftP50Ms = f.Ttft.GetValueAtPercentile(50) / 1000.0, TtftP99Ms = f.Ttft.GetValueAtPercentile(99) / 1000.0,
                LagP50Ms = f.Lag.TotalCount == 0 ? 0 : f.Lag.GetValueAtPercentile(50) / 1000.0,
                LagP99Ms = f.Lag.TotalCount == 0 ? 0 : f.Lag.GetValueAtPercentile(99) / 1000.0,
            }),
            Growth = growth, Cpu = cpu, Samples = samples,
        }, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        AnsiConsole.MarkupLine(Markup.Escape($"wrote {path}"));
        return passed ? 0 : 2;
    }
}
