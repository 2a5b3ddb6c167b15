using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Xunit.Abstractions;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

[Collection(AppHostCollection.Name)]
public sealed class SupervisionTests(AppHostFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task KilledReplica_IsRestarted_WhileTheOtherKeepsAnswering()
    {
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("llm-1").DefaultTimeout();
        var before = _app.GetResourceSnapshots("llm-1").Single();
        using var channel0 = await _app.CreateGrpcChannelAsync("llm");
        var survivor = new LlmService.LlmServiceClient(channel0);
        var session = await survivor.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        var killed = await _app.KillReplicaAsync("llm-1");

        // While llm-1 is down (or still starting), llm serves a whole turn.
        var turn = await LlmConversation.TurnAsync(survivor, session.Id, "Still there?").DefaultTimeout();
        Assert.Equal(session.Id, turn.Accepted.SessionId);

        var after = await _app.WaitForNewProcessAsync("llm-1", killed, TimeSpan.FromSeconds(60));
        Assert.NotEqual(before.ProcessId, after.ProcessId);
        Assert.False(ProcessIsAlive(killed));
        Assert.Equal(before.Environment["ASPNETCORE_URLS"], after.Environment["ASPNETCORE_URLS"]);
        Assert.Contains("Exited with code", await _app.GetConsoleLogAsync("llm-1", 10_000), StringComparison.Ordinal);

        // The restarted replica has the same address and continues the session.
        using var channel1 = await _app.CreateGrpcChannelAsync("llm-1");
        var continued = await LlmConversation.TurnAsync(new LlmService.LlmServiceClient(channel1), session.Id, "And now?").DefaultTimeout();
        Assert.Equal(2, continued.Accepted.MessageCount);
    }

    [Fact]
    public async Task StopCommand_IsNotACrash_AndStartBringsTheReplicaBack()
    {
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("sse-1").DefaultTimeout();
        var before = _app.GetResourceSnapshots("sse-1").Single();

        var stop = await _app.ExecuteCommandAsync("sse-1", KnownResourceCommands.StopCommand).DefaultTimeout();
        Assert.True(stop.Success, stop.Message);
        await _app.ResourceNotifications.WaitForResourceAsync("sse-1", e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text)).DefaultTimeout();
        Assert.False(ProcessIsAlive(before.ProcessId!.Value));
        Assert.Equal("Running", _app.GetResourceSnapshots("sse").First().State);

        // The restart policy waits 200 ms after a crash; ten times that later, a stopped replica is still stopped.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var stopped = _app.GetResourceSnapshots("sse-1").Single();
        Assert.True(KnownResourceStates.TerminalStates.Contains(stopped.State), $"{stopped.State}, pid {stopped.ProcessId}:\n{await _app.GetConsoleLogAsync("sse-1", 30)}");

        var start = await _app.ExecuteCommandAsync("sse-1", KnownResourceCommands.StartCommand).DefaultTimeout();
        Assert.True(start.Success, start.Message);
        var after = await _app.WaitForNewProcessAsync("sse-1", before.ProcessId!.Value, TimeSpan.FromSeconds(60));
        Assert.NotEqual(before.ProcessId, after.ProcessId);
    }

    [Fact]
    public async Task ConsoleLogs_OfEveryProcess_AreCaptured()
    {
        Assert.Contains("Now listening on", await _app.GetConsoleLogAsync("llm", 10_000), StringComparison.Ordinal);
        Assert.Contains("Ready to accept connections", await _app.GetConsoleLogAsync("redis", 10_000), StringComparison.Ordinal);
    }

    internal static bool ProcessIsAlive(int processId)
    {
        var stat = $"/proc/{processId}/stat";
        // A zombie (state Z) has exited; it only waits for its parent to collect it.
        return File.Exists(stat) && File.ReadAllText(stat).Split(") ").ElementAtOrDefault(1)?.StartsWith('Z') != true;
    }
}
