using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Chat.Hosting.Orchestration;

/// <summary>What to run for one replica.</summary>
internal sealed record ProcessLaunch(string FileName, IReadOnlyList<string> Arguments, string WorkingDirectory);

/// <summary>
/// One replica's process, started through a small /bin/sh watchdog so that it can never outlive the AppHost:
/// the shell forks a watcher that blocks reading the AppHost's stdin pipe, then execs the real program in its own
/// session (same pid, so Id is the service's pid; out of the AppHost's process group, so Ctrl+C reaches only the
/// AppHost, which then stops replicas dependants first). When the pipe closes — the AppHost closed it to stop the
/// replica, or the AppHost died, even by SIGKILL — the watcher sends SIGTERM, then SIGKILL after the grace period.
/// The watcher ignores INT/TERM/HUP: a signal sent to the AppHost's whole process group (Ctrl+C, `timeout`) must not
/// kill it before the AppHost has stopped the replicas. PR_SET_PDEATHSIG would be simpler but is tied to the forking
/// thread, which .NET does not keep alive.
/// </summary>
internal sealed partial class ChildProcess
{
    private const int SigTerm = 15;

    private const string WatchdogScript = """
        pid=$$
        exec 3<&0
        (
          trap '' INT TERM HUP
          while read -r _; do :; done <&3
          kill -TERM "$pid" 2>/dev/null || exit 0
          ticks=0
          while kill -0 "$pid" 2>/dev/null; do
            ticks=$((ticks + 1))
            if [ "$ticks" -ge "$GRACE_TICKS" ]; then kill -KILL "$pid" 2>/dev/null; exit 0; fi
            sleep 0.1
          done
        ) >/dev/null 2>&1 &
        exec 3<&-
        if command -v setsid >/dev/null 2>&1; then exec setsid "$@" </dev/null; else exec "$@" </dev/null; fi
        """;

    private readonly Process _process;

    private ChildProcess(Process process, Task<int> exited)
    {
        _process = process;
        Id = process.Id;
        Exited = exited;
    }

    public int Id { get; }

    /// <summary>Completes with the exit code (128 + signal when killed by a signal) once the process is gone.</summary>
    public Task<int> Exited { get; }

    public static ChildProcess Start(ProcessLaunch launch, IReadOnlyDictionary<string, string?> environment, TimeSpan stopTimeout, Action<string, bool> onOutput)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = launch.WorkingDirectory,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(WatchdogScript);
        start.ArgumentList.Add("chat-apphost-watchdog");
        start.ArgumentList.Add(launch.FileName);
        foreach (var argument in launch.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["GRACE_TICKS"] = Math.Max(1, (int)(stopTimeout.TotalMilliseconds / 100)).ToString(System.Globalization.CultureInfo.InvariantCulture);

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                onOutput(e.Data, false);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                onOutput(e.Data, true);
            }
        };

        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(process, WaitForExitAsync(process));
    }

    /// <summary>Graceful stop: SIGTERM, and closing stdin makes the watchdog follow up with SIGKILL after the grace period.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!Exited.IsCompleted)
        {
            _ = SendSignal(Id, SigTerm);
        }

        CloseWatchdogPipe();
        try
        {
            return await Exited.WaitAsync(timeout + TimeSpan.FromSeconds(2));
        }
        catch (TimeoutException)
        {
            Kill();
            return await Exited.WaitAsync(TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>SIGKILL, as a crash would end it (tests use it to exercise supervision).</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int processId, int signal);

    private static async Task<int> WaitForExitAsync(Process process)
    {
        await process.WaitForExitAsync();
        var exitCode = process.ExitCode;
        try
        {
            // Lets the watchdog (now reparented, waiting on the pipe) find its target gone and exit.
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }

        process.Dispose();
        return exitCode;
    }

    private void CloseWatchdogPipe()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
        }
    }
}
