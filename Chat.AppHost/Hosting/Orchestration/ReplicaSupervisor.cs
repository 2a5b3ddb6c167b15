using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Chat.Hosting.Orchestration;

internal enum ReplicaCommand
{
    Start,
    Stop,
    Restart,
    Kill,
}

/// <summary>
/// Keeps one replica running: launches it, probes its health, restarts it with exponential back-off when it exits on
/// its own (Aspire has no automatic restart, microsoft/dcp#32; we do), and obeys start/stop/restart commands.
/// </summary>
internal sealed class ReplicaSupervisor(
    Replica replica,
    ProcessLaunch? launch,
    IReadOnlyDictionary<string, string?> environment,
    Func<IHealthProbe> createProbe,
    OrchestratorSettings settings,
    ILogger logger)
{
    private static readonly TimeSpan s_stableAfter = TimeSpan.FromSeconds(30);

    private readonly Channel<ReplicaCommand> _commands = Channel.CreateUnbounded<ReplicaCommand>();
    private readonly CancellationTokenSource _shutdown = new();
    private Task _loop = Task.CompletedTask;

    public Replica Replica { get; } = replica;

    public void Start() => _loop = Task.Run(async () =>
    {
        try
        {
            await SuperviseAsync(_shutdown.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug here must not take the AppHost down with every other replica.
            Log.SupervisionFailed(logger, Replica.Name, e);
            Replica.FailedToStart();
        }
    });

    public bool Send(ReplicaCommand command) => _commands.Writer.TryWrite(command);

    /// <summary>Stops the process (SIGTERM, then SIGKILL after the stop timeout) and the supervision.</summary>
    public async Task StopAsync()
    {
        await _shutdown.CancelAsync();
        await _loop;
    }

    private async Task SuperviseAsync(CancellationToken shutdown)
    {
        if (launch is null)
        {
            await WatchExternalAsync(shutdown);
            return;
        }

        var wanted = true;
        var crashes = 0;
        while (!shutdown.IsCancellationRequested)
        {
            if (!wanted)
            {
                var command = await NextCommandAsync(Task.Delay(Timeout.Infinite, shutdown), shutdown);
                wanted = command is ReplicaCommand.Start or ReplicaCommand.Restart;
                continue;
            }

            ChildProcess child;
            try
            {
                child = ChildProcess.Start(launch, environment, settings.StopTimeout, Replica.Log.Append);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.FailedToStart(logger, Replica.Name, e.Message);
                Replica.FailedToStart();
                return;
            }

            var startedAt = DateTimeOffset.UtcNow;
            Replica.Starting(child.Id);
            Log.Started(logger, Replica.Name, child.Id);

            using var run = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
            var health = MonitorHealthAsync(run.Token);
            var outcome = await WatchAsync(child, shutdown);
            await run.CancelAsync();
            await health;

            switch (outcome)
            {
                case RunOutcome.Shutdown:
                    Replica.Exited(await child.StopAsync(settings.StopTimeout), ReplicaStates.Stopped);
                    return;
                case RunOutcome.Stop:
                    Replica.Exited(await child.StopAsync(settings.StopTimeout), ReplicaStates.Stopped);
                    Log.Stopped(logger, Replica.Name);
                    wanted = false;
                    break;
                case RunOutcome.Restart:
                    await child.StopAsync(settings.StopTimeout);
                    Replica.Restarting();
                    crashes = 0;
                    break;
                case RunOutcome.Exited:
                    var exitCode = await child.Exited;
                    Replica.Exited(exitCode, ReplicaStates.Exited);
                    crashes = DateTimeOffset.UtcNow - startedAt > s_stableAfter ? 1 : crashes + 1;
                    var delay = RestartDelay(crashes);
                    Log.Crashed(logger, Replica.Name, exitCode, delay.TotalSeconds, Replica.Log.Tail(5).Select(l => l.Text).LastOrDefault() ?? "");
                    var command = await NextCommandAsync(Task.Delay(delay, shutdown), shutdown);
                    if (command is ReplicaCommand.Stop)
                    {
                        Replica.Exited(exitCode, ReplicaStates.Stopped);
                        wanted = false;
                    }
                    else if (!shutdown.IsCancellationRequested)
                    {
                        Replica.Restarting();
                    }

                    break;
            }
        }
    }

    /// <summary>An external resource is not ours to start or stop: only its health is followed.</summary>
    private async Task WatchExternalAsync(CancellationToken shutdown)
    {
        Replica.Starting(processId: null);
        await MonitorHealthAsync(shutdown);
        Replica.Exited(0, ReplicaStates.Stopped);
    }

    private enum RunOutcome
    {
        Exited,
        Stop,
        Restart,
        Shutdown,
    }

    /// <summary>Waits for the process to exit or for a command that ends this run.</summary>
    private async Task<RunOutcome> WatchAsync(ChildProcess child, CancellationToken shutdown)
    {
        while (true)
        {
            var command = await NextCommandAsync(child.Exited, shutdown);
            switch (command)
            {
                case null when shutdown.IsCancellationRequested:
                    return RunOutcome.Shutdown;
                case null:
                    return RunOutcome.Exited;
                case ReplicaCommand.Stop:
                    return RunOutcome.Stop;
                case ReplicaCommand.Restart:
                    return RunOutcome.Restart;
                case ReplicaCommand.Kill:
                    Log.Killing(logger, Replica.Name, child.Id);
                    child.Kill();
                    break;
            }
        }
    }

    /// <summary>The next command, or null when <paramref name="until"/> completes (or shutdown) first.</summary>
    private async Task<ReplicaCommand?> NextCommandAsync(Task until, CancellationToken shutdown)
    {
        using var stopWaiting = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        var commandReady = _commands.Reader.WaitToReadAsync(stopWaiting.Token).AsTask();
        var first = await Task.WhenAny(until, commandReady);
        await stopWaiting.CancelAsync();
        if (first == commandReady && commandReady.IsCompletedSuccessfully && _commands.Reader.TryRead(out var command))
        {
            return command;
        }

        return null;
    }

    private async Task MonitorHealthAsync(CancellationToken cancellationToken)
    {
        await using var probe = createProbe();
        var startedProbing = DateTimeOffset.UtcNow;
        var everHealthy = false;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var healthy = await probe.CheckAsync(cancellationToken);
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                if (healthy != Replica.IsHealthy)
                {
                    if (healthy)
                    {
                        Log.Healthy(logger, Replica.Name, (DateTimeOffset.UtcNow - startedProbing).TotalSeconds);
                    }
                    else if (everHealthy)
                    {
                        Log.Unhealthy(logger, Replica.Name);
                    }
                }

                Replica.Health(healthy);
                everHealthy |= healthy;

                // Fast while starting (WaitFor dependants are waiting), relaxed once healthy, 1 s after a failure.
                var delay = healthy ? settings.HealthyProbeInterval
                    : everHealthy ? TimeSpan.FromSeconds(1)
                    : DateTimeOffset.UtcNow - startedProbing < TimeSpan.FromSeconds(10) ? TimeSpan.FromMilliseconds(100)
                    : TimeSpan.FromMilliseconds(500);
                await Task.Delay(delay, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private TimeSpan RestartDelay(int crashes)
    {
        var delay = settings.RestartDelay * Math.Pow(2, Math.Min(crashes - 1, 10));
        return delay < settings.MaxRestartDelay ? delay : settings.MaxRestartDelay;
    }
}
