using System.Collections.Concurrent;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace Chat.Tests.Infrastructure;

/// <summary>Where a graph's logs go: .test-artifacts/logs/&lt;Name&gt;/, and (for a graph a test owns) that test's output.</summary>
public sealed record TestRun(string Name, ITestOutputHelper? Output);

/// <summary>
/// The latest state of every resource by its name in the graph (one process each: replicas are resources), and its
/// whole console output since the start, across restarts (Aspire's log stream begins anew with every run). When the
/// graph stops, every resource's output is written to .test-artifacts/logs/&lt;run&gt;/&lt;resource&gt;.log, so the test
/// run's own output stays readable and nothing is lost.
/// </summary>
internal sealed partial class ResourceStates(ResourceNotificationService notifications, ResourceLoggerService logs, TestRun run, CapturingLoggerProvider appHostLog)
    : BackgroundService
{
    private readonly ConcurrentDictionary<string, ResourceEvent> _latest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, List<LogLine>> _console = new(StringComparer.Ordinal);
    private readonly List<Task> _watches = [];

    public bool TryGet(string name, out ResourceEvent state) => _latest.TryGetValue(name, out state!);

    public IReadOnlyList<LogLine> ConsoleOf(string name)
    {
        if (!_console.TryGetValue(name, out var lines))
        {
            return [];
        }

        lock (lines)
        {
            return lines.ToList();
        }
    }

    /// <summary>How many lines each resource has written so far (see <see cref="LinesSince"/>).</summary>
    public IReadOnlyDictionary<string, int> Mark() =>
        _console.ToDictionary(pair => pair.Key, pair => { lock (pair.Value) { return pair.Value.Count; } });

    /// <summary>Each resource's lines written after <paramref name="mark"/>, the last <paramref name="maxLines"/> of each.</summary>
    public IEnumerable<(string Resource, IReadOnlyList<string> Lines)> LinesSince(IReadOnlyDictionary<string, int> mark, int maxLines)
    {
        foreach (var (name, lines) in _console.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            List<string> added;
            lock (lines)
            {
                added = lines.Skip(mark.GetValueOrDefault(name)).Select(line => Plain(line.Content)).ToList();
            }

            if (added.Count > 0)
            {
                yield return (name, added.TakeLast(maxLines).ToList());
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var change in notifications.WatchAsync(stoppingToken))
            {
                _latest[change.Resource.Name] = change;
                if (_console.TryAdd(change.Resource.Name, []))
                {
                    _watches.Add(CaptureAsync(change.Resource.Name, change.ResourceId, stoppingToken));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(_watches);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        var directory = TestArtifacts.Directory(Path.Combine("logs", run.Name));
        foreach (var name in _console.Keys)
        {
            await File.WriteAllLinesAsync(Path.Combine(directory, $"{name}.log"), ConsoleOf(name).Select(line => Plain(line.Content)), cancellationToken);
        }

        await File.WriteAllLinesAsync(Path.Combine(directory, "apphost.log"), appHostLog.Lines, cancellationToken);
        if (run.Output is { } output)
        {
            WriteTo(output, LinesSince(new Dictionary<string, int>(), maxLines: 80), $"logs in {directory}");
        }
    }

    /// <summary>Shown by the test runner for a failing test only: what the services said while it ran.</summary>
    public static void WriteTo(ITestOutputHelper output, IEnumerable<(string Resource, IReadOnlyList<string> Lines)> logs, string where)
    {
        try
        {
            output.WriteLine($"Service console output ({where}):");
            foreach (var (resource, lines) in logs)
            {
                output.WriteLine($"--- {resource}");
                foreach (var line in lines)
                {
                    output.WriteLine(line);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // The test has already ended (a fixture outliving it): the files hold the logs.
        }
    }

    /// <summary>The services colour their console for the dashboard; files and test output read better without the escapes.</summary>
    private static string Plain(string line) => AnsiEscape().Replace(line, "");

    [System.Text.RegularExpressions.GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial System.Text.RegularExpressions.Regex AnsiEscape();

    private async Task CaptureAsync(string name, string resourceId, CancellationToken stoppingToken)
    {
        var lines = _console[name];
        try
        {
            await foreach (var batch in logs.WatchAsync(resourceId).WithCancellation(stoppingToken))
            {
                lock (lines)
                {
                    lines.AddRange(batch);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
