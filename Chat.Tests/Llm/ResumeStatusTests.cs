using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Grpc.Core;
using StackExchange.Redis;

namespace Chat.Tests.Llm;

/// <summary>
/// ResumeTurn with report_status: a ResumeStatus first (recovered, or why not), then what the buffer holds after the
/// caller's position, from the turn's own replica (in memory) and from another (Redis) alike.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ResumeStatusTests(RedisFixture redis)
{
    private Task<LlmServiceHost> StartReplicaAsync(string prefix, int interTokenDelayMs = 0, int replyTokens = 0, int maxBufferedEvents = 10_000) =>
        LlmServiceHost.StartAsync(redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Sessions:KeyPrefix"] = prefix,
            ["Llm:Offline:InterTokenDelayMs"] = interTokenDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Llm:Offline:ReplyTokens"] = replyTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Llm:Resume:MaxBufferedEvents"] = maxBufferedEvents.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).DefaultTimeout();

    private static string NewPrefix() => $"t{Guid.NewGuid():N}:";

    [Fact]
    public async Task Resume_OnAnotherReplica_SaysRecoveredWithTheTurnsSessionAndEpoch_ThenExactlyTheRest()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, replyTokens: 20);
        await using var b = await StartReplicaAsync(prefix);
        var all = await a.CreateClient().RunTurnAsync(new TurnRequest { Message = "resume me" }).DefaultTimeout();
        await WaitUntilBufferedAsync(prefix, all);
        var accepted = all[0].Accepted;

        var (status, rest) = await ResumeAsync(b.CreateClient(), all[0].TurnId, afterSequence: 5, accepted.Epoch);

        Assert.Matches("^[0-9a-f]{12}$", accepted.Epoch);
        Assert.True(status.Recovered);
        Assert.Equal("", status.Reason);
        Assert.Equal(accepted.Epoch, status.Epoch);
        Assert.Equal(accepted.SessionId, status.Accepted.SessionId);
        Assert.True(status.Ended);
        Assert.Equal(all[^1].Sequence, status.LastSequence);
        Assert.Equal(all.Skip(5), rest);
    }

    [Fact]
    public async Task Resume_OnTheTurnsOwnReplicaWhileItRuns_SaysRecovered_ThenFollowsTheLiveTailExactlyOnce()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, interTokenDelayMs: 15, replyTokens: 30);
        var (turnId, seen) = await StartAndReadAsync(a, events: 4);

        var (status, rest) = await ResumeAsync(a.CreateClient(), turnId, afterSequence: 4, seen[0].Accepted.Epoch);

        Assert.True(status.Recovered);
        Assert.Equal(seen[0].Accepted.SessionId, status.Accepted.SessionId);
        Assert.Equal(Enumerable.Range(5, 28).Select(i => (long)i), rest.Select(e => e.Sequence));
        Assert.Equal(30, rest[^1].Completed.TotalChunks);
    }

    [Fact]
    public async Task Resume_FromBeforeWhatTheBufferStillHolds_SaysTrimmed_ThenWhatItHolds()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, replyTokens: 20, maxBufferedEvents: 8);
        await using var b = await StartReplicaAsync(prefix, maxBufferedEvents: 8);
        var all = await a.CreateClient().RunTurnAsync(new TurnRequest { Message = "a long one" }).DefaultTimeout();
        await WaitUntilBufferedAsync(prefix, all);

        var (status, rest) = await ResumeAsync(b.CreateClient(), all[0].TurnId, afterSequence: 2, all[0].Accepted.Epoch);

        Assert.False(status.Recovered);
        Assert.Equal("trimmed", status.Reason);
        // 22 events, 8 kept: 15 to 22. The acceptance (the session) is kept with the turn's record.
        Assert.Equal(all.Skip(14), rest);
        Assert.Equal(all[0].Accepted.SessionId, status.Accepted.SessionId);

        // A position the buffer still holds is recovered.
        var (held, tail) = await ResumeAsync(b.CreateClient(), all[0].TurnId, afterSequence: 16, all[0].Accepted.Epoch);
        Assert.True(held.Recovered);
        Assert.Equal(all.Skip(16), tail);
    }

    [Fact]
    public async Task Resume_WhileRunning_FromBeforeWhatTheFeedHolds_SaysTrimmed_OnTheTurnsOwnReplicaToo()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, interTokenDelayMs: 15, replyTokens: 40, maxBufferedEvents: 8);
        var (turnId, seen) = await StartAndReadAsync(a, events: 16);

        var (status, rest) = await ResumeAsync(a.CreateClient(), turnId, afterSequence: 2, seen[0].Accepted.Epoch);

        Assert.False(status.Recovered);
        Assert.Equal("trimmed", status.Reason);
        Assert.True(rest[0].Sequence > 3);
        Assert.Equal(Enumerable.Range((int)rest[0].Sequence, 42 - (int)rest[0].Sequence + 1).Select(i => (long)i), rest.Select(e => e.Sequence));
    }

    [Fact]
    public async Task Resume_WithAnotherEpoch_SaysEpochChanged_ThenTheWholeBuffer()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, replyTokens: 10);
        var all = await a.CreateClient().RunTurnAsync(new TurnRequest { Message = "which buffer" }).DefaultTimeout();

        var (status, rest) = await ResumeAsync(a.CreateClient(), all[0].TurnId, afterSequence: 6, epoch: "0123456789ab");

        Assert.False(status.Recovered);
        Assert.Equal("epoch_changed", status.Reason);
        Assert.Equal(all[0].Accepted.Epoch, status.Epoch);
        Assert.Equal(all, rest);
    }

    [Fact]
    public async Task BufferLostInRedisMidTurn_IsRecreatedUnderANewEpoch_AndAnOldPositionIsNeverTakenForANewOne()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, interTokenDelayMs: 20, replyTokens: 40);
        await using var b = await StartReplicaAsync(prefix);
        using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString).DefaultTimeout();
        var db = connection.GetDatabase();

        using var call = a.CreateClient().StreamTurn(new TurnRequest { Message = "lose my buffer", Detach = true });
        var events = new List<TurnEvent>();
        Assert.True(await call.ResponseStream.MoveNext().DefaultTimeout());
        events.Add(call.ResponseStream.Current);
        var turnId = events[0].TurnId;
        var epoch = events[0].Accepted.Epoch;

        // Once a batch is in Redis, Redis loses the buffer (a restart without persistence, a failover).
        while (await db.ListLengthAsync($"{prefix}turn:{turnId}:events").DefaultTimeout() == 0)
        {
            Assert.True(await call.ResponseStream.MoveNext().DefaultTimeout());
            events.Add(call.ResponseStream.Current);
        }

        await db.KeyDeleteAsync([$"{prefix}turn:{turnId}", $"{prefix}turn:{turnId}:events"]).DefaultTimeout();
        while (await call.ResponseStream.MoveNext().DefaultTimeout())
        {
            events.Add(call.ResponseStream.Current);
        }

        var (status, rest) = await ResumeAsync(b.CreateClient(), turnId, afterSequence: 1, epoch);

        Assert.Equal(TurnEvent.KindOneofCase.Completed, events[^1].KindCase);
        Assert.False(status.Recovered);
        Assert.Equal("epoch_changed", status.Reason);
        Assert.NotEqual(epoch, status.Epoch);
        Assert.Equal(events[0].Accepted.SessionId, status.Accepted.SessionId);
        // What the recreated buffer holds: a contiguous tail of the turn, not its start.
        Assert.True(rest[0].Sequence > 1);
        Assert.Equal(events.SkipWhile(e => e.Sequence < rest[0].Sequence), rest);

        // In the new epoch, positions are good again.
        var (again, tail) = await ResumeAsync(b.CreateClient(), turnId, afterSequence: rest[0].Sequence, status.Epoch);
        Assert.True(again.Recovered);
        Assert.Equal(rest.Skip(1), tail);
    }

    [Fact]
    public async Task Resume_OfAFinishedTurn_WhenTheCallerHasEverything_SendsTheLastEventAgain()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, replyTokens: 5);
        var all = await a.CreateClient().RunTurnAsync(new TurnRequest { Message = "over" }).DefaultTimeout();

        var (status, rest) = await ResumeAsync(a.CreateClient(), all[0].TurnId, afterSequence: all[^1].Sequence, all[0].Accepted.Epoch)
            .WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(status.Recovered);
        Assert.Equal([all[^1]], rest);
    }

    [Fact]
    public async Task Resume_OfAnUnknownTurn_IsNotFound()
    {
        await using var a = await StartReplicaAsync(NewPrefix());

        var error = await Assert.ThrowsAsync<RpcException>(() => ResumeAsync(a.CreateClient(), Guid.NewGuid().ToString("N"), 3, "0123456789ab"));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    /// <summary>
    /// The caller has the turn's last event before its last batch is in Redis (a resumer meanwhile follows the live
    /// tail, whole): waits for the batch, so a resume elsewhere reads the buffer as it stays.
    /// </summary>
    private async Task WaitUntilBufferedAsync(string prefix, List<TurnEvent> all)
    {
        using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString).DefaultTimeout();
        var db = connection.GetDatabase();
        var deadline = Infrastructure.TaskExtensions.DefaultTimeoutToken();
        while ((long)await db.HashGetAsync($"{prefix}turn:{all[0].TurnId}", "last") != all[^1].Sequence)
        {
            await Task.Delay(20, deadline);
        }
    }

    private static async Task<(string TurnId, List<TurnEvent> Seen)> StartAndReadAsync(LlmServiceHost host, int events)
    {
        using var leave = new CancellationTokenSource();
        using var call = host.CreateClient().StreamTurn(new TurnRequest { Message = "long one", Detach = true }, cancellationToken: leave.Token);
        var seen = new List<TurnEvent>();
        await foreach (var turnEvent in call.ResponseStream.ReadAllAsync().WithCancellation(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
        {
            seen.Add(turnEvent);
            if (seen.Count == events)
            {
                break;
            }
        }

        await leave.CancelAsync();
        return (seen[0].TurnId, seen);
    }

    private static async Task<(ResumeStatus Status, List<TurnEvent> Events)> ResumeAsync(
        LlmService.LlmServiceClient client, string turnId, long afterSequence, string epoch)
    {
        using var call = client.ResumeTurn(
            new ResumeTurnRequest { TurnId = turnId, AfterSequence = afterSequence, Epoch = epoch, ReportStatus = true },
            cancellationToken: Infrastructure.TaskExtensions.DefaultTimeoutToken());
        var events = new List<TurnEvent>();
        await foreach (var turnEvent in call.ResponseStream.ReadAllAsync().WithCancellation(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
        {
            events.Add(turnEvent);
        }

        var status = events[0];
        Assert.Equal(TurnEvent.KindOneofCase.Resume, status.KindCase);
        Assert.Equal(0, status.Sequence);
        Assert.Equal(turnId, status.TurnId);
        return (status.Resume, events.Skip(1).ToList());
    }
}
