using Chat.Dashboard.Resources;
using Chat.Hosting.Orchestration;
using Chat.Hosting.Publishing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Chat.Hosting;

/// <summary>
/// The running application: a generic host whose one hosted service (the orchestrator) starts the resource graph on
/// StartAsync and stops it, dependants first, on StopAsync / Ctrl+C / SIGTERM.
/// </summary>
public sealed partial class DistributedApplication : IHost, IAsyncDisposable
{
    private readonly IHost _host;

    internal DistributedApplication(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;

    /// <summary>Resources, states, console logs and commands: what the dashboard shows, and what tests inspect.</summary>
    public IResourceSource Resources => Orchestrator;

    public ResourceNotificationService ResourceNotifications => Orchestrator.Notifications;

    internal Orchestrator Orchestrator => _host.Services.GetRequiredService<Orchestrator>();

    public static DistributedApplicationBuilder CreateBuilder(string[] args)
    {
        var options = new DistributedApplicationOptions { Args = args };
        DistributedApplicationTestingHook.Current?.OnCreatingBuilder(options);
        return new DistributedApplicationBuilder(options);
    }

    /// <summary>Starts every resource (dependants once what they wait for is healthy) and returns; see ResourceNotifications.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await Orchestrator.PrepareAsync(cancellationToken);
        await _host.StartAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken = default) => _host.StopAsync(cancellationToken);

    /// <summary>Runs until Ctrl+C or SIGTERM. A problem the user can fix is printed as one message and exit code 1.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        if (ManifestPublishing.Requested(_host.Services) is { } publish)
        {
            await PublishAsync(publish, cancellationToken);
            return;
        }

        try
        {
            await StartAsync(cancellationToken);
            await _host.WaitForShutdownAsync(cancellationToken);
        }
        catch (DistributedApplicationException e)
        {
            LogCannotStart(_host.Services.GetRequiredService<ILogger<DistributedApplication>>(), e.Message);
            Environment.ExitCode = 1;
        }
        finally
        {
            await DisposeAsync();
        }
    }

    public void Run() => RunAsync().GetAwaiter().GetResult();

    /// <summary>Writes deployment files from the graph (Publishing/); no process is started, so the host never starts either.</summary>
    private async Task PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        try
        {
            await ManifestPublishing.PublishAsync(_host.Services, request, cancellationToken);
        }
        catch (DistributedApplicationException e)
        {
            LogCannotStart(_host.Services.GetRequiredService<ILogger<DistributedApplication>>(), e.Message);
            Environment.ExitCode = 1;
        }
        finally
        {
            if (_host is IAsyncDisposable asyncDisposable)
            {
                await asyncDisposable.DisposeAsync();
            }
            else
            {
                _host.Dispose();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(CancellationToken.None);
        }
        finally
        {
            if (_host is IAsyncDisposable asyncDisposable)
            {
                await asyncDisposable.DisposeAsync();
            }
            else
            {
                _host.Dispose();
            }
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    [LoggerMessage(Level = LogLevel.Critical, Message = "Chat.AppHost cannot start: {Reason}")]
    private static partial void LogCannotStart(ILogger logger, string reason);
}
