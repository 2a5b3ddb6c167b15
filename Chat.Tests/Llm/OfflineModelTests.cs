using System.Diagnostics;
using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Llm;

[Collection(RedisCollection.Name)]
public sealed class OfflineModelTests(RedisFixture redis)
{
    [Fact]
    public async Task OfflineModel_WithReplyTokens_StreamsExactlyThatManyTokens_AtTheConfiguredPace()
    {
        await using var host = await LlmServiceHost.StartAsync(redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Offline:TimeToFirstTokenMs"] = "100",
            ["Llm:Offline:InterTokenDelayMs"] = "20",
            ["Llm:Offline:ReplyTokens"] = "12",
        }).DefaultTimeout();

        var events = await host.CreateClient().RunTurnAsync(new TurnRequest { Message = "pace me" }).DefaultTimeout();

        var deltas = events.Where(e => e.Delta is not null).Select(e => e.Delta).ToList();
        var completed = events.Completed();
        Assert.Equal(12, deltas.Count);
        Assert.Equal(12, completed.Usage.OutputTokens);
        Assert.True(completed.TimeToFirstTokenSeconds >= 0.09, $"TTFT {completed.TimeToFirstTokenSeconds}");
        var spread = Stopwatch.GetElapsedTime(deltas[0].EmittedAtTicks, deltas[^1].EmittedAtTicks);
        Assert.InRange(spread.TotalMilliseconds, 11 * 20 * 0.7, 11 * 20 * 4);
        Assert.Equal(deltas.Select(d => d.EmittedAtTicks).Order(), deltas.Select(d => d.EmittedAtTicks));
    }

    [Fact]
    public async Task OfflineModel_WithMaxOutputTokens_StopsWithLength()
    {
        await using var host = await LlmServiceHost.StartAsync(redis.ConnectionString).DefaultTimeout();

        var events = await host.CreateClient().RunTurnAsync(new TurnRequest
        {
            Message = "cut me short",
            Options = new TurnOptions { MaxOutputTokens = 3 },
        }).DefaultTimeout();

        Assert.Equal(3, events.Completed().TotalChunks);
        Assert.Equal("length", events.Completed().FinishReason);
    }
}
