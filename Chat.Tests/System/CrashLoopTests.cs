using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

public sealed class CrashLoopTests
{
    [Fact]
    public async Task CrashingProcess_IsRestartedWithBackoff_AndItsExitCodeAndLastWordsStayVisible()
    {
        await using var appHost = DistributedApplicationTestingBuilder.Create(
            ["--AppHost:RestartDelayMs=100"]).WithResourceStates();
        appHost.AddExecutable("crasher", "/bin/sh", Path.GetTempPath(), "-c", "echo \"dying as $OTEL_SERVICE_NAME\"; echo oops >&2; exit 3")
            .WithOtlpExporter()
            .WithRestartOnCrash();
        await using var app = await appHost.BuildAsync().DefaultTimeout();
        var notifications = app.ResourceNotifications;
        var started = DateTimeOffset.UtcNow;

        // Count the runs from the states Aspire publishes: every Running → Exited is one crash.
        var exits = new List<int?>();
        using var watching = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        var watch = Task.Run(async () =>
        {
            string? last = null;
            await foreach (var change in notifications.WatchAsync(watching.Token))
            {
                if (change.Resource.Name != "crasher")
                {
                    continue;
                }

                var state = change.Snapshot.State?.Text;
                if (state != last && state is "Exited" or "Finished")
                {
                    exits.Add(change.Snapshot.ExitCode);
                    if (exits.Count >= 4)
                    {
                        return DateTimeOffset.UtcNow - started;
                    }
                }

                last = state;
            }

            throw new TimeoutException("fewer than four runs");
        }, watching.Token);
        await app.StartAsync().DefaultTimeout();
        var elapsed = await watch.DefaultTimeout();

        // Back-off doubles: 100 + 200 + 400 ms before the fourth run at the earliest.
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(700), $"restarted too fast: {elapsed}");
        Assert.All(exits, code => Assert.Equal(3, code));

        // Console lines of earlier runs are kept (they arrive a little after the states that announce the runs).
        var log = (await app.WaitForConsoleLogAsync("crasher",
            text => text.Split('\n').Count(l => l.EndsWith("dying as crasher", StringComparison.Ordinal)) >= 3,
            TimeSpan.FromSeconds(30))).Split('\n');
        Assert.Contains(log, l => l.EndsWith("oops", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("Exited with code 3; restarting in", StringComparison.Ordinal) && l.Contains("oops", StringComparison.Ordinal));
        await watching.CancelAsync();
    }
}
