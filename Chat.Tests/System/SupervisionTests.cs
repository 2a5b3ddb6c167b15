using Chat.Contracts.Llm.V1;
using Chat.Hosting;
using Chat.Hosting.Orchestration;
using Chat.Hosting.Testing;
using Chat.Tests.Infrastructure;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

[Collection(AppHostCollection.Name)]
public sealed class SupervisionTests(AppHostFixture fixture)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task KilledReplica_IsRestarted_WhileTheOtherKeepsAnswering()
    {
        await _app.WaitForResourceHealthyAsync("llm").DefaultTimeout();
        var before = _app.GetResourceSnapshots("llm-1").Single();
        using var channel0 = _app.CreateGrpcChannel("llm-0");
        var survivor = new LlmService.LlmServiceClient(channel0);
        var session = await survivor.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        await _app.KillReplicaAsync("llm-1").DefaultTimeout();
        await _app.ResourceNotifications.WaitForResourceAsync("llm-1", r => r[0].State != ReplicaStates.Running).DefaultTimeout();

        // While llm-1 is down (or still starting), llm-0 serves a whole turn.
        var turn = await LlmConversation.TurnAsync(survivor, session.Id, "Still there?").DefaultTimeout();
        Assert.Equal(session.Id, turn.Accepted.SessionId);

        await _app.WaitForResourceHealthyAsync("llm-1").DefaultTimeout();
        var after = _app.GetResourceSnapshots("llm-1").Single();
        Assert.Equal(before.RestartCount + 1, after.RestartCount);
        Assert.NotEqual(before.ProcessId, after.ProcessId);
        Assert.False(ProcessIsAlive(before.ProcessId!.Value));
        Assert.Equal(before.Endpoints, after.Endpoints);

        // The restarted replica has the same address and continues the session.
        using var channel1 = _app.CreateGrpcChannel("llm-1");
        var continued = await LlmConversation.TurnAsync(new LlmService.LlmServiceClient(channel1), session.Id, "And now?").DefaultTimeout();
        Assert.Equal(2, continued.Accepted.MessageCount);
    }

    [Fact]
    public async Task StopAndStartCommands_StopTheReplicaWithoutRestart_ThenBringItBack()
    {
        await _app.WaitForResourceHealthyAsync("sse-1").DefaultTimeout();
        var before = _app.GetResourceSnapshots("sse-1").Single();

        Assert.True(await _app.Resources.ExecuteCommandAsync("sse-1", "stop", CancellationToken.None).DefaultTimeout());
        await _app.ResourceNotifications.WaitForResourceAsync("sse-1", r => r[0].State == ReplicaStates.Stopped).DefaultTimeout();
        var stopped = _app.GetResourceSnapshots("sse-1").Single();
        Assert.Null(stopped.ProcessId);
        Assert.False(ProcessIsAlive(before.ProcessId!.Value));
        Assert.Equal(ReplicaStates.Running, _app.GetResourceSnapshots("sse-0").Single().State);

        Assert.True(await _app.Resources.ExecuteCommandAsync("sse-1", "start", CancellationToken.None).DefaultTimeout());
        await _app.WaitForResourceHealthyAsync("sse-1").DefaultTimeout();
        Assert.NotEqual(before.ProcessId, _app.GetResourceSnapshots("sse-1").Single().ProcessId);
        Assert.False(await _app.Resources.ExecuteCommandAsync("sse-9", "stop", CancellationToken.None).DefaultTimeout());
        Assert.False(await _app.Resources.ExecuteCommandAsync("sse-1", "explode", CancellationToken.None).DefaultTimeout());
    }

    [Fact]
    public async Task ConsoleLogs_OfEveryReplica_AreCapturedAndWatchable()
    {
        var lines = _app.Resources.GetConsoleLogs("llm-0", 1000);
        Assert.NotEmpty(lines);
        Assert.Contains(lines, l => l.Text.Contains("Now listening on", StringComparison.Ordinal));
        Assert.True(lines.Select(l => l.Sequence).SequenceEqual(lines.Select(l => l.Sequence).Order()));

        using var watching = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        await foreach (var line in _app.Resources.WatchConsoleLogs("redis-0", 0, watching.Token))
        {
            Assert.True(line.Sequence >= 1);
            break;
        }
    }

    internal static bool ProcessIsAlive(int processId)
    {
        var stat = $"/proc/{processId}/stat";
        // A zombie (state Z) has exited; it only waits for its parent to collect it.
        return File.Exists(stat) && File.ReadAllText(stat).Split(") ").ElementAtOrDefault(1)?.StartsWith('Z') != true;
    }
}
