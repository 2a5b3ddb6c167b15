using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Chat.Tests.Bench;

/// <summary>
/// Runs the built Chat.Bench in smoke mode (the whole graph through the AppHost's testing entry point, every arm and
/// transport, a few seconds) and fails only on functional errors: lost or reordered tokens and failed turns. Timing
/// is never asserted; a shared CI box is too noisy for that.
/// </summary>
public sealed class BenchSmokeTests : IDisposable
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(4);
    private readonly string _output = Directory.CreateTempSubdirectory("chat-bench-smoke-").FullName;
    private Process? _bench;

    [Fact]
    public async Task Smoke_EveryArmAndTransport_DeliversEveryTokenInOrderWithoutErrors()
    {
        var dll = BenchDll();
        Assert.True(File.Exists(dll), $"Chat.Bench is not built at {dll}: dotnet build Chat.Bench -c {Configuration()}");
        var log = new StringBuilder();
        var start = new ProcessStartInfo("dotnet", [dll, "--smoke", "--out", _output])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _bench = Process.Start(start)!;
        _bench.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        _bench.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        _bench.BeginOutputReadLine();
        _bench.BeginErrorReadLine();
        await _bench.WaitForExitAsync().WaitAsync(RunTimeout);

        var reportPath = Path.Combine(_output, "bench.json");
        Assert.True(File.Exists(reportPath), $"no bench.json (exit {_bench.ExitCode}):\n{log}");
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(reportPath));
        var arms = report.RootElement.GetProperty("scenarios").EnumerateArray()
            .Where(s => s.GetProperty("name").GetString() is "single" or "load")
            .SelectMany(s => s.GetProperty("arms").EnumerateArray().Select(a => (Scenario: s.GetProperty("name").GetString(), Arm: a)))
            .ToList();
        var failures = arms
            .Where(x => x.Arm.GetProperty("lost").GetInt64() + x.Arm.GetProperty("reordered").GetInt64() + x.Arm.GetProperty("errors").GetInt64() > 0)
            .Select(x => $"{x.Scenario} {x.Arm.GetProperty("arm").GetString()} {x.Arm.GetProperty("transport").GetString()}: " +
                $"lost {x.Arm.GetProperty("lost")}, reordered {x.Arm.GetProperty("reordered")}, errors {x.Arm.GetProperty("errors")} " +
                string.Join(" | ", x.Arm.GetProperty("error_samples").EnumerateArray().Select(e => e.GetString())))
            .ToList();
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + log);

        // Every arm ran and delivered tokens: A0, then A1 and A2 for each of the five transports, in both scenarios.
        Assert.Equal(2 * 11, arms.Count);
        Assert.All(arms, x => Assert.True(x.Arm.GetProperty("tokens").GetInt64() > 0, $"{x.Scenario} {x.Arm.GetProperty("arm")} {x.Arm.GetProperty("transport")} delivered no tokens"));
        Assert.Equal(0, _bench.ExitCode);
        Assert.True(File.Exists(Path.Combine(_output, "bench.svg")));
    }

    public void Dispose()
    {
        if (_bench is { HasExited: false })
        {
            // The bench's replicas watch its stdin pipe and stop when it dies.
            _bench.Kill(entireProcessTree: true);
            _bench.WaitForExit(10_000);
        }

        _bench?.Dispose();
        Directory.Delete(_output, recursive: true);
    }

    private static string Configuration() =>
        typeof(BenchSmokeTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    private static string BenchDll()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Chat.sln")))
        {
            directory = directory.Parent;
        }

        var root = directory?.FullName ?? throw new InvalidOperationException("Chat.sln not found above the test output.");
        return Path.Combine(root, "Chat.Bench", "bin", Configuration(), "net10.0", "Chat.Bench.dll");
    }
}
