using System.Text.Json;
using Chat.Cli.Rendering;
using Chat.Cli.Transports;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cli;

/// <summary>
/// A reply interrupted for real: the gateway process is killed mid-reply and restarted by the AppHost, and the CLI
/// reconnects through the new one and resumes the reply (SSE Last-Event-ID, WebSocket resume, gRPC RESUME).
/// Its own graph, with a paced offline model so a reply is still streaming when the gateway goes.
/// </summary>
public sealed class CliResumeSystemTests(CliResumeSystemTests.PacedAppHost host) : IClassFixture<CliResumeSystemTests.PacedAppHost>
{
    public static TheoryData<string> ResumableProtocols => new(Protocols.Sse, Protocols.WebSocket, Protocols.Grpc);

    [Theory]
    [MemberData(nameof(ResumableProtocols))]
    public async Task Send_GatewayKilledMidReply_ReconnectsAndResumesTheWholeReply(string protocol)
    {
        var app = host.App;
        await app.ResourceNotifications.WaitForResourceHealthyAsync("gateway").DefaultTimeout();
        var runner = new CliRunner();
        var run = runner.StartAsync("", "send", "Keep talking while the gateway restarts", "--json", "--protocol", protocol,
            "--url", app.GetEndpoint("gateway", "http").ToString(), "--grpc-url", app.GetEndpoint("gateway", "http2").ToString());

        while (!runner.Out.ToString().Contains("\"chunk_number\":4}", StringComparison.Ordinal))
        {
            Assert.False(run.IsCompleted, runner.Out.ToString() + runner.Error);
            await Task.Delay(20).DefaultTimeout();
        }

        await app.KillReplicaAsync("gateway").DefaultTimeout();
        var result = await run.DefaultTimeout();

        Assert.True(result.ExitCode == ExitCodes.Success, result.Out + result.Error);
        var events = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Contains(events, e => e.GetProperty("type").GetString() == "resuming");
        var chunks = events.Where(e => e.GetProperty("type").GetString() == "chunk" && e.GetProperty("text").GetString()!.Length > 0).ToList();
        Assert.Equal(Enumerable.Range(1, chunks.Count), chunks.Select(c => c.GetProperty("chunk_number").GetInt32()));
        Assert.Equal(
            "[offline model] This is a local offline model, not a real LLM. Turn 1 of this conversation. " +
            "You said: \"Keep talking while the gateway restarts\". Ask again and I will remember it.",
            string.Concat(chunks.Select(c => c.GetProperty("text").GetString())));
        Assert.Equal("complete", events[^2].GetProperty("type").GetString());
    }

    /// <summary>The AppHost's graph with one replica each and 150 ms between tokens (a reply streams for ~4 s).</summary>
    public sealed class PacedAppHost : IAsyncLifetime
    {
        public DistributedApplication App { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var builder = await ChatAppHost.CreateAsync([], new Dictionary<string, string?>
            {
                ["Llm:Provider"] = "offline",
                ["Llm:Offline:TimeToFirstTokenMs"] = "0",
                ["Llm:Offline:InterTokenDelayMs"] = "150",
            }).DefaultTimeout();
            App = await builder.StartHealthyAsync(TimeSpan.FromSeconds(60));
        }

        public async Task DisposeAsync() => await App.DisposeAsync();
    }
}
