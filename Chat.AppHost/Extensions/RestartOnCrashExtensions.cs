using System.Collections.Concurrent;
using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aspire.Hosting;

/// <summary>The resource is started again when its process ends on its own (not by a stop or restart command).</summary>
public sealed class RestartOnCrashAnnotation : IResourceAnnotation;

public static class RestartOnCrashExtensions
{
    /// <summary>
    /// Aspire leaves a crashed process Exited; this brings it back with Aspire's own start command, after
    /// AppHost:RestartDelayMs (1 s), doubling per consecutive crash up to AppHost:MaxRestartDelayMs (30 s); a process
    /// that ran 30 s counts as stable again. The wait shows in the dashboard as the state "Restarting" and a line in
    /// the console log. A stop (or restart) from the dashboard or a test is not a crash: those commands are wrapped
    /// so the policy knows the exit was asked for.
    /// </summary>
    public static IResourceBuilder<T> WithRestartOnCrash<T>(this IResourceBuilder<T> builder) where T : IResource
    {
        builder.WithAnnotation(new RestartOnCrashAnnotation(), ResourceAnnotationMutationBehavior.Replace);
        var services = builder.ApplicationBuilder.Services;
        if (!services.Any(service => service.ServiceType == typeof(CrashRestarter)))
        {
            services.AddSingleton<CrashRestarter>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, CrashRestarter>(provider => provider.GetRequiredService<CrashRestarter>()));
        }

        return builder;
    }
}

/// <summary>Watches resource states and restarts crashed resources that carry <see cref="RestartOnCrashAnnotation"/>.</summary>
internal sealed partial class CrashRestarter(
    ResourceNotificationService notifications,
    ResourceCommandService commands,
    ResourceLoggerService resourceLogs,
    IHostApplicationLifetime lifetime,
    IConfiguration configuration,
    ILogger<CrashRestarter> logger) : BackgroundService
{
    private static readonly TimeSpan s_stableAfter = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Replica> _replicas = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<IResource, bool> _wrapped = new();
    private readonly TimeSpan _initialDelay = TimeSpan.FromMilliseconds(configuration.GetValue("AppHost:RestartDelayMs", 1000));
    private readonly TimeSpan _maxDelay = TimeSpan.FromMilliseconds(configuration.GetValue("AppHost:MaxRestartDelayMs", 30_000));

    /// <summary>
    /// Stops asked for through the stop and restart commands are remembered, so their exit is not taken for a crash.
    /// Aspire adds a resource's lifecycle commands when it creates it, so they are wrapped when it is first seen.
    /// </summary>
    private void WrapStopCommands(IResource resource)
    {
        if (!_wrapped.TryAdd(resource, true))
        {
            return;
        }

        foreach (var command in resource.Annotations.OfType<ResourceCommandAnnotation>()
            .Where(c => c.Name == KnownResourceCommands.StopCommand || c.Name == KnownResourceCommands.RestartCommand).ToList())
        {
            resource.Annotations.Remove(command);
            resource.Annotations.Add(new ResourceCommandAnnotation(
                command.Name, command.DisplayName, command.UpdateState,
                async context =>
                {
                    Get(context.ResourceName).StopRequested = true;
                    return await command.ExecuteCommand(context);
                },
                command.DisplayDescription, command.Arguments, command.ConfirmationMessage, command.IconName, command.IconVariant, command.IsHighlighted,
                command.Visibility, command.ValidateArguments));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var change in notifications.WatchAsync(stoppingToken))
            {
                if (change.Resource.HasAnnotationOfType<RestartOnCrashAnnotation>())
                {
                    WrapStopCommands(change.Resource);
                    Observe(change, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private Replica Get(string resourceId) => _replicas.GetOrAdd(resourceId, _ => new Replica());

    private void Observe(ResourceEvent change, CancellationToken stoppingToken)
    {
        var replica = Get(change.ResourceId);
        var state = change.Snapshot.State?.Text;
        lock (replica)
        {
            var wasRunning = replica.LastState is not null && !IsTerminal(replica.LastState);
            replica.LastState = state;
            if (state == KnownResourceStates.Running && replica.RunningSince is null)
            {
                replica.RunningSince = DateTime.UtcNow;
            }

            if (!IsTerminal(state) || !wasRunning || replica.RestartPending)
            {
                return;
            }

            if (replica.StopRequested || lifetime.ApplicationStopping.IsCancellationRequested)
            {
                replica.StopRequested = false;
                replica.RunningSince = null;
                return;
            }

            replica.ConsecutiveCrashes = replica.RunningSince is { } since && DateTime.UtcNow - since >= s_stableAfter ? 1 : replica.ConsecutiveCrashes + 1;
            replica.RunningSince = null;
            replica.RestartPending = true;
        }

        var delay = Backoff(replica.ConsecutiveCrashes);
        _ = RestartAsync(change, replica, delay, stoppingToken);
    }

    private async Task RestartAsync(ResourceEvent crash, Replica replica, TimeSpan delay, CancellationToken stoppingToken)
    {
        var exitCode = crash.Snapshot.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "unknown";
        try
        {
            // The dead run's last lines, repeated beside the verdict: a restart begins a new log stream.
            var lastWords = new List<string>();
            await foreach (var batch in resourceLogs.GetAllAsync(crash.ResourceId).WithCancellation(stoppingToken))
            {
                lastWords.AddRange(batch.Select(line => line.Content));
            }

            var console = resourceLogs.GetLogger(crash.ResourceId);
            LogCrash(console, exitCode, delay.TotalSeconds, replica.ConsecutiveCrashes,
                string.Join(" | ", lastWords.Where(line => !line.Contains("[sys]", StringComparison.Ordinal)).TakeLast(5)));
            LogCrashForHost(logger, crash.ResourceId, exitCode, delay.TotalSeconds);
            await notifications.PublishUpdateAsync(crash.Resource, crash.ResourceId, snapshot => snapshot with
            {
                State = new ResourceStateSnapshot("Restarting", KnownResourceStateStyles.Warn),
            });

            await Task.Delay(delay, stoppingToken);
            lock (replica)
            {
                // Someone (a command, a test) started it meanwhile, or asked it to stay stopped.
                if (replica.StopRequested || (replica.LastState is not null && !IsTerminal(replica.LastState) && replica.LastState != "Restarting"))
                {
                    replica.StopRequested = false;
                    return;
                }
            }

            var result = await commands.ExecuteCommandAsync(crash.ResourceId, KnownResourceCommands.StartCommand, stoppingToken);
            if (!result.Success)
            {
                LogRestartFailed(logger, crash.ResourceId, result.Message);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            lock (replica)
            {
                replica.RestartPending = false;
            }
        }
    }

    private TimeSpan Backoff(int consecutiveCrashes)
    {
        var factor = Math.Pow(2, Math.Min(Math.Max(consecutiveCrashes - 1, 0), 16));
        return TimeSpan.FromMilliseconds(Math.Min(_initialDelay.TotalMilliseconds * factor, _maxDelay.TotalMilliseconds));
    }

    private static bool IsTerminal(string? state) =>
        state is not null && (KnownResourceStates.TerminalStates.Contains(state) || state == "Restarting");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Exited with code {ExitCode}; restarting in {DelaySeconds:0.#} s (crash {Crashes} in a row). Last output: {LastWords}")]
    private static partial void LogCrash(ILogger logger, string exitCode, double delaySeconds, int crashes, string lastWords);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Resource} exited with code {ExitCode}; restarting in {DelaySeconds:0.#} s.")]
    private static partial void LogCrashForHost(ILogger logger, string resource, string exitCode, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Restarting {Resource} failed: {Reason}")]
    private static partial void LogRestartFailed(ILogger logger, string resource, string? reason);

    private sealed class Replica
    {
        public string? LastState { get; set; }

        public DateTime? RunningSince { get; set; }

        public int ConsecutiveCrashes { get; set; }

        public bool StopRequested { get; set; }

        public bool RestartPending { get; set; }
    }
}
