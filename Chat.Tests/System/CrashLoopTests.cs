using Chat.Hosting;
using Chat.Hosting.Orchestration;
using Chat.Hosting.Testing;
using Chat.Tests.Infrastructure;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

public sealed class CrashLoopTests
{
    [Fact]
    public async Task CrashingProcess_IsRestartedWithBackoff_AndItsExitCodeAndLastWordsStayVisible()
    {
        var appHost = DistributedApplicationTestingBuilder.Create(options => options.Configuration["AppHost:RestartDelayMs"] = "100");
        appHost.Builder.AddExecutable("crasher", "/bin/sh", Path.GetTempPath(), "-c", "echo \"dying as $OTEL_SERVICE_NAME\"; echo oops >&2; exit 3");
        await using var app = await appHost.BuildAsync().DefaultTimeout();
        var started = DateTimeOffset.UtcNow;
        await app.StartAsync().DefaultTimeout();

        await app.ResourceNotifications.WaitForResourceAsync("crasher", r => r[0].RestartCount >= 3).DefaultTimeout();
        var elapsed = DateTimeOffset.UtcNow - started;

        var crasher = app.GetResourceSnapshots("crasher-0").Single();
        Assert.Equal("Executable", crasher.Type);
        Assert.Contains(crasher.State, new[] { ReplicaStates.Starting, ReplicaStates.Running, ReplicaStates.Exited, ReplicaStates.Restarting });
        // Back-off doubles: 100 + 200 + 400 ms before the third restart at the earliest.
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(700), $"restarted too fast: {elapsed}");
        await app.ResourceNotifications.WaitForResourceAsync("crasher", r => r[0].ExitCode == 3).DefaultTimeout();

        var log = app.Resources.GetConsoleLogs("crasher-0", 100);
        Assert.True(log.Count(l => l.Text == "dying as crasher" && !l.IsError) >= 3, "console lines of earlier runs are kept");
        Assert.Contains(log, l => l.Text == "oops" && l.IsError);
    }
}
