using System.Globalization;

namespace Chat.Bench;

/// <summary>
/// CPU time, RSS and PSS of one process from /proc/&lt;pid&gt;/stat, /proc/&lt;pid&gt;/status and
/// /proc/&lt;pid&gt;/smaps_rollup (Linux). PSS shares each page among the processes that map it, so the PSS of a whole
/// application adds up to what it really costs (RSS counts the shared runtime libraries once per process).
/// </summary>
public readonly record struct ProcessSample(double CpuSeconds, long RssBytes, long PssBytes = 0, long ContextSwitches = 0)
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
            return new ProcessSample(cpu, Kilobytes($"/proc/{pid}/status", "VmRSS:"), 0, ContextSwitchesOf(pid));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return default;
        }
    }

    /// <summary>As <see cref="Read(int)"/>, with PSS (reading smaps_rollup costs the kernel a walk of the page tables).</summary>
    public static ProcessSample ReadWithPss(int pid)
    {
        var sample = Read(pid);
        try
        {
            return sample with { PssBytes = Kilobytes($"/proc/{pid}/smaps_rollup", "Pss:") };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return sample;
        }
    }

    public static ProcessSample operator +(ProcessSample a, ProcessSample b) =>
        new(a.CpuSeconds + b.CpuSeconds, a.RssBytes + b.RssBytes, a.PssBytes + b.PssBytes, a.ContextSwitches + b.ContextSwitches);

    /// <summary>
    /// Times the process's threads were switched out (voluntarily: a thread went to sleep and had to be woken again; or
    /// preempted), summed over its live threads: the wake-ups a token costs show here.
    /// </summary>
    private static long ContextSwitchesOf(int pid)
    {
        long total = 0;
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                    {
                        if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal)
                            || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                        {
                            total += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
                        }
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The thread ended while we looked.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return total;
    }

    private static long Kilobytes(string file, string field)
    {
        foreach (var line in File.ReadLines(file))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}

/// <summary>
/// A process the bench watches, by role: a replica (by resource name), Redis, the bench client, nginx, or DCP's helpers
/// (one <c>dcp-monitor</c> per service: a role may have several processes, whose figures add up).
/// </summary>
public sealed record WatchedProcess(string Name, IReadOnlyList<int> Pids)
{
    public WatchedProcess(string name, int pid) : this(name, [pid])
    {
    }

    public ProcessSample Read() => Pids.Select(ProcessSample.Read).Aggregate(default(ProcessSample), (a, b) => a + b);

    public ProcessSample ReadWithPss() => Pids.Select(ProcessSample.ReadWithPss).Aggregate(default(ProcessSample), (a, b) => a + b);
}

/// <summary>
/// CPU used by each watched process over a scenario, its RSS at the end, and its threads' context switches per token
/// (threads that ended during the scenario are not counted, so this is a lower bound).
/// </summary>
public sealed record ProcessFigures(string Name, double CpuSeconds, long RssBytes, long TokensThrough, double CpuMicrosecondsPerToken,
    double ContextSwitchesPerToken = 0);

public sealed class ProcessMeter(IReadOnlyList<WatchedProcess> processes)
{
    private readonly Dictionary<string, ProcessSample> _start = processes.ToDictionary(p => p.Name, p => p.Read());

    /// <param name="tokensThrough">tokens that passed through a process (by name) during the scenario.</param>
    public List<ProcessFigures> Stop(Func<string, long> tokensThrough) => processes.Select(p =>
    {
        var end = p.Read();
        var cpu = end.CpuSeconds - _start[p.Name].CpuSeconds;
        var tokens = tokensThrough(p.Name);
        var switches = Math.Max(0, end.ContextSwitches - _start[p.Name].ContextSwitches);
        return new ProcessFigures(p.Name, cpu, end.RssBytes, tokens, tokens > 0 ? cpu * 1e6 / tokens : 0,
            tokens > 0 ? Math.Round((double)switches / tokens, 2) : 0);
    }).ToList();
}
