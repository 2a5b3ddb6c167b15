using System.Globalization;

namespace Chat.Bench;

/// <summary>CPU time and RSS of one process from /proc/&lt;pid&gt;/stat and /proc/&lt;pid&gt;/status (Linux).</summary>
public readonly record struct ProcessSample(double CpuSeconds, long RssBytes)
{
    private const double ClockTicksPerSecond = 100; // USER_HZ, 100 on every Linux this runs on

    public static ProcessSample Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var cpu = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicksPerSecond;
            long rss = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }

            return new ProcessSample(cpu, rss);
        }
        catch (IOException)
        {
            return default;
        }
    }
}

/// <summary>A process the bench watches: a replica (by name) or the bench client itself.</summary>
public sealed record WatchedProcess(string Name, int Pid);

/// <summary>CPU used by each watched process over a scenario, and its RSS at the end.</summary>
public sealed record ProcessFigures(string Name, double CpuSeconds, long RssBytes, long TokensThrough, double CpuMicrosecondsPerToken);

public sealed class ProcessMeter(IReadOnlyList<WatchedProcess> processes)
{
    private readonly Dictionary<string, ProcessSample> _start = processes.ToDictionary(p => p.Name, p => ProcessSample.Read(p.Pid));

    /// <param name="tokensThrough">tokens that passed through a process (by name) during the scenario.</param>
    public List<ProcessFigures> Stop(Func<string, long> tokensThrough) => processes.Select(p =>
    {
        var end = ProcessSample.Read(p.Pid);
        var cpu = end.CpuSeconds - _start[p.Name].CpuSeconds;
        var tokens = tokensThrough(p.Name);
        return new ProcessFigures(p.Name, cpu, end.RssBytes, tokens, tokens > 0 ? cpu * 1e6 / tokens : 0);
    }).ToList();
}
