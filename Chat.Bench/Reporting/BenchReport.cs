using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using HdrHistogram;
using Spectre.Console;

namespace Chat.Bench.Reporting;

/// <summary>p50/p90/p99/max of one histogram, in milliseconds.</summary>
public sealed record Percentiles(double P50, double P90, double P99, double Max, long Count)
{
    public static Percentiles Of(HistogramBase histogram) => histogram.TotalCount == 0
        ? new Percentiles(0, 0, 0, 0, 0)
        : new Percentiles(Ms(histogram.GetValueAtPercentile(50)), Ms(histogram.GetValueAtPercentile(90)),
            Ms(histogram.GetValueAtPercentile(99)), Ms(histogram.GetMaxValue()), histogram.TotalCount);

    private static double Ms(long microseconds) => Math.Round(microseconds / 1000.0, 3);
}

public sealed record ArmReport(
    string Arm, string Transport, long Turns, long Tokens, double TokensPerSecond, long Lost, long Reordered, long Errors,
    double WireBytesPerReply, Percentiles Ttft, Percentiles Lag, Percentiles InterToken, Percentiles EndToEnd, IReadOnlyList<string> ErrorSamples);

/// <summary>Per transport, A2 against A0 (the whole chain) and A1 (the gateway alone), in ms and as ratios.</summary>
public sealed record ChainCost(
    string Arm, string Transport, double AddedTtftP50, double AddedTtftP99, double RatioTtftP50, double GatewayTtftP50, double GatewayTtftP99,
    double AddedLagP50, double AddedLagP99, double GatewayLagP50, double GatewayLagP99);

public sealed record ScenarioReport(
    string Name, string Description, double Seconds, double TokensPerSecond, IReadOnlyList<ArmReport> Arms, IReadOnlyList<ChainCost> Costs,
    IReadOnlyList<ProcessFigures> Processes, RedisFigures? Redis, IReadOnlyDictionary<string, object>? Extra);

public sealed record BenchReport(
    DateTimeOffset StartedAt, string Machine, double LoadAverageAtStart, double LoadAverageAtEnd, BenchOptions Options,
    IReadOnlyList<ScenarioReport> Scenarios)
{
    /// <summary>Each arm's path, hop by hop, with the process owning each port (a proxy in the way shows by name).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<PathHop>>? Paths { get; init; }

    /// <summary>RSS and PSS of every process of the application at rest (started, healthy, before any turn).</summary>
    public IReadOnlyList<ProcessMemory>? MemoryAtRest { get; init; }

    /// <summary>Why an arm did not run (nginx missing and not installable, say).</summary>
    public IReadOnlyList<string>? Notes { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public long FunctionalErrors => Scenarios.SelectMany(s => s.Arms).Sum(a => a.Lost + a.Reordered + a.Errors);

    public static ScenarioReport Scenario(ScenarioResult result)
    {
        var arms = result.Arms.Select(a => new ArmReport(
            a.Arm, a.Transport, a.Turns, a.Tokens, Math.Round(a.Tokens / result.Seconds, 1), a.Lost, a.Reordered, a.Errors,
            a.Turns - a.Errors == 0 ? 0 : Math.Round((double)a.WireBytes / (a.Turns - a.Errors), 0),
            Percentiles.Of(a.Ttft), Percentiles.Of(a.Lag), Percentiles.Of(a.InterToken), Percentiles.Of(a.EndToEnd), a.ErrorSamples)).ToList();
        var a0 = arms.FirstOrDefault(a => a.Arm == "A0");
        var costs = new List<ChainCost>();
        // A2 (the gateway) and A2n (nginx, the peer) against the same baselines.
        foreach (var a2 in arms.Where(a => a.Arm is "A2" or "A2n" && a.Ttft.Count > 0))
        {
            var a1 = arms.FirstOrDefault(a => a.Arm == "A1" && a.Transport == a2.Transport);
            costs.Add(new ChainCost(
                a2.Arm, a2.Transport,
                D(a2.Ttft.P50, a0?.Ttft.P50), D(a2.Ttft.P99, a0?.Ttft.P99),
                a0 is null || a0.Ttft.P50 == 0 ? double.NaN : Math.Round(a2.Ttft.P50 / a0.Ttft.P50, 2),
                D(a2.Ttft.P50, a1?.Ttft.P50), D(a2.Ttft.P99, a1?.Ttft.P99),
                a2.Lag.Count == 0 ? double.NaN : D(a2.Lag.P50, a0?.Lag.P50), a2.Lag.Count == 0 ? double.NaN : D(a2.Lag.P99, a0?.Lag.P99),
                a2.Lag.Count == 0 ? double.NaN : D(a2.Lag.P50, a1?.Lag.P50), a2.Lag.Count == 0 ? double.NaN : D(a2.Lag.P99, a1?.Lag.P99)));
        }

        return new ScenarioReport(result.Name, result.Description, Math.Round(result.Seconds, 2), Math.Round(result.Tokens / result.Seconds, 1),
            arms, costs, result.Processes, result.Redis, result.Extra);

        static double D(double value, double? baseline) => baseline is null ? double.NaN : Math.Round(value - baseline.Value, 3);
    }

    public void WriteJson(string path)
    {
        var options = new JsonSerializerOptions(Json) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        File.WriteAllText(path, JsonSerializer.Serialize(this, options));
    }

    public void WriteConsole()
    {
        if (Paths is { Count: > 0 })
        {
            var table = new Table().Border(TableBorder.Simple).AddColumns("arm", "path (port → process that owns it)");
            foreach (var (arm, hops) in Paths)
            {
                table.AddRow(Markup.Escape(arm), Markup.Escape(string.Join("  ·  ", hops.Select(h =>
                    $"{h.From} → :{h.Port} {h.Owner}{(h.Protocol is null ? "" : $" {h.Protocol}")}{(h.Connections is { } n ? $" ×{n}" : "")}"))));
            }

            AnsiConsole.Write(table);
        }

        if (MemoryAtRest is { Count: > 0 } memory)
        {
            var table = new Table().Border(TableBorder.Simple).AddColumns("at rest", "processes", "RSS MiB", "PSS MiB", "idle CPU ms/s");
            foreach (var m in memory)
            {
                table.AddRow(m.Name, N(m.Processes), F(m.RssBytes / 1048576.0), F(m.PssBytes / 1048576.0), F(m.CpuCoresAtRest * 1000));
            }

            table.AddRow("[bold]whole application[/]", N(memory.Sum(m => m.Processes)), F(memory.Sum(m => m.RssBytes) / 1048576.0),
                F(memory.Sum(m => m.PssBytes) / 1048576.0), F(memory.Sum(m => m.CpuCoresAtRest) * 1000));
            AnsiConsole.Write(table);
        }

        foreach (var note in Notes ?? [])
        {
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(note)}[/]");
        }

        foreach (var scenario in Scenarios)
        {
            AnsiConsole.Write(new Rule($"[bold]{scenario.Name}[/]: {Markup.Escape(scenario.Description)}").LeftJustified());
            if (scenario.Arms.Any(a => a.Turns > 0 && a.Transport != "idle"))
            {
                var table = new Table().Border(TableBorder.Simple)
                    .AddColumns("arm", "turns", "TTFT p50/p90/p99/max ms", "lag p50/p90/p99/max ms", "ITL p50/p99 ms", "e2e p50/p99 ms",
                        "tok/s", "lost", "reord", "err", "bytes/reply");
                foreach (var a in scenario.Arms)
                {
                    table.AddRow(
                        a.Arm == "A0" ? "A0 llm" : $"{a.Arm} {a.Transport}", N(a.Turns), P4(a.Ttft), a.Lag.Count == 0 ? "–" : P4(a.Lag),
                        a.InterToken.Count == 0 ? "–" : $"{F(a.InterToken.P50)}/{F(a.InterToken.P99)}", $"{F(a.EndToEnd.P50)}/{F(a.EndToEnd.P99)}",
                        F(a.TokensPerSecond), Bad(a.Lost), Bad(a.Reordered), Bad(a.Errors), N((long)a.WireBytesPerReply));
                }

                AnsiConsole.Write(table);
            }

            if (scenario.Costs.Count > 0)
            {
                var costs = new Table().Border(TableBorder.Simple).AddColumns(
                    "arm", "ΔTTFT A2−A0 p50/p99 ms", "TTFT A2/A0 p50", "proxy ΔTTFT A2−A1 p50/p99", "Δlag A2−A0 p50/p99 ms", "proxy Δlag A2−A1 p50/p99");
                foreach (var c in scenario.Costs)
                {
                    costs.AddRow($"{c.Arm} {c.Transport}", $"{F(c.AddedTtftP50)}/{F(c.AddedTtftP99)}", F(c.RatioTtftP50), $"{F(c.GatewayTtftP50)}/{F(c.GatewayTtftP99)}",
                        $"{F(c.AddedLagP50)}/{F(c.AddedLagP99)}", $"{F(c.GatewayLagP50)}/{F(c.GatewayLagP99)}");
                }

                AnsiConsole.Write(costs);
            }

            var processes = new Table().Border(TableBorder.Simple).AddColumns("process", "CPU s", "RSS MiB", "tokens through", "CPU µs/token", "switches/token");
            foreach (var p in scenario.Processes)
            {
                processes.AddRow(p.Name, F(p.CpuSeconds), F(p.RssBytes / 1048576.0), N(p.TokensThrough), F(p.CpuMicrosecondsPerToken), F(p.ContextSwitchesPerToken));
            }

            AnsiConsole.Write(processes);
            AnsiConsole.MarkupLine($"whole chain: [bold]{scenario.TokensPerSecond:N0} tokens/s[/] delivered over {scenario.Seconds:F1} s");
            if (scenario.Redis is { } redis)
            {
                AnsiConsole.MarkupLine(Markup.Escape($"redis: {redis.CommandsPerTurn} commands/turn, {redis.CommandsPerToken} per token ({string.Join(", ", redis.ByCommand.Take(8).Select(kv => $"{kv.Key} {kv.Value}"))})"));
            }

            if (scenario.Extra is { } extra)
            {
                AnsiConsole.MarkupLine(Markup.Escape(JsonSerializer.Serialize(extra, Json).ReplaceLineEndings(" ")));
            }

            foreach (var a in scenario.Arms.Where(a => a.ErrorSamples.Count > 0))
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape($"{a.Arm} {a.Transport}: {string.Join(" | ", a.ErrorSamples)}")}[/]");
            }
        }
    }

    private static string P4(Percentiles p) => $"{F(p.P50)}/{F(p.P90)}/{F(p.P99)}/{F(p.Max)}";

    private static string F(double value) => double.IsNaN(value) ? "–" : value.ToString(Math.Abs(value) >= 100 ? "F0" : "0.###", CultureInfo.InvariantCulture);

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bad(long value) => value == 0 ? "0" : $"[red]{value}[/]";
}
