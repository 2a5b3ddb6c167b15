using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Grpc.Core;

namespace Chat.Tests.Llm;

/// <summary>Two replicas of the service on one Redis: resume, cancel, detach, fan-out and stats across them.</summary>
[Collection(RedisCollection.Name)]
public sealed class ReplicaTests(RedisFixture redis)
{
    private Task<LlmServiceHost> StartReplicaAsync(string prefix, int interTokenDelayMs = 0, int replyTokens = 0) =>
        LlmServiceHost.StartAsync(redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Sessions:KeyPrefix"] = prefix,
            ["Llm:Offline:InterTokenDelayMs"] = interTokenDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Llm:Offline:ReplyTokens"] = replyTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).DefaultTimeout();

    private static string NewPrefix() => $"t{Guid.NewGuid():N}:";

    [Fact]
    public async Task ResumeTurn_AfterSequenceN_OnAnotherReplica_ReturnsExactlyTheRemainingEvents()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, replyTokens: 30);
        await using var b = await StartReplicaAsync(prefix);
        var all = await a.CreateClient().RunTurnAsync(new TurnRequest { Message = "resume me" }).DefaultTimeout();
        Assert.Equal(32, all.Count);

        var rest = await ResumeAsync(b.CreateClient(), all[0].TurnId, afterSequence: 5);

        Assert.Equal(all.Skip(5), rest);
    }

    [Fact]
    public async Task ResumeTurn_AfterTheLastEventOfAFinishedTurn_EndsAtOnceWithNothing()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, replyTokens: 5);
        var all = await a.CreateClient().RunTurnAsync(new TurnRequest { Message = "already over" }).DefaultTimeout();

        // A client that saw every event and reconnects must not be held until the silence timeout.
        var rest = await ResumeAsync(a.CreateClient(), all[0].TurnId, afterSequence: all[^1].Sequence)
            .WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Empty(rest);
    }

    [Fact]
    public async Task ResumeTurn_WhileRunning_ReplaysThenFollowsTheLiveTailExactlyOnce()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, interTokenDelayMs: 15, replyTokens: 40);
        await using var b = await StartReplicaAsync(prefix);

        using var leave = new CancellationTokenSource();
        using var call = a.CreateClient().StreamTurn(new TurnRequest { Message = "long one", Detach = true }, cancellationToken: leave.Token);
        var seen = new List<TurnEvent>();
        await foreach (var turnEvent in call.ResponseStream.ReadAllAsync().WithCancellation(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
        {
            seen.Add(turnEvent);
            if (seen.Count == 4)
            {
                break;
            }
        }

        await leave.CancelAsync();
        var rest = await ResumeAsync(b.CreateClient(), seen[0].TurnId, afterSequence: 4);

        Assert.Equal(Enumerable.Range(5, 38).Select(i => (long)i), rest.Select(e => e.Sequence));
        var completed = rest[^1].Completed;
        Assert.NotNull(completed);
        Assert.Equal(40, completed.TotalChunks);
        Assert.Equal(string.Concat(seen.Concat(rest).Where(e => e.Delta is not null).Select(e => e.Delta.Text)), completed.FullText);
    }

    [Fact]
    public async Task DetachedTurn_KeepsRunningWhenTheCallerLeaves_AndItsReplyIsStored()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, interTokenDelayMs: 10, replyTokens: 20);
        var client = a.CreateClient();
        var session = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        var turnId = await StartAndLeaveAsync(client, new TurnRequest { SessionId = session.Id, Message = "keep going", Detach = true });
        var events = await ResumeAsync(client, turnId, afterSequence: 0);

        Assert.Equal(20, events[^1].Completed.TotalChunks);
        var history = await client.GetHistoryAsync(new GetHistoryRequest { SessionId = session.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal(["user", "model"], history.Messages.Select(m => m.Role));
    }

    [Fact]
    public async Task NonDetachedTurn_StopsWhenTheCallerLeaves_AndKeepsOnlyTheUserMessage()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, interTokenDelayMs: 20, replyTokens: 200);
        var client = a.CreateClient();
        var session = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        var turnId = await StartAndLeaveAsync(client, new TurnRequest { SessionId = session.Id, Message = "stop when I go" });
        var events = await ResumeAsync(client, turnId, afterSequence: 0);

        Assert.Equal("CANCELLED", events[^1].Error.Code);
        Assert.True(events.Count < 50, $"the turn ran on for {events.Count} events");
        var history = await client.GetHistoryAsync(new GetHistoryRequest { SessionId = session.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal(["user"], history.Messages.Select(m => m.Role));
        var next = await client.RunTurnAsync(session.Id, "again").DefaultTimeout();
        Assert.Equal(0, next[0].Accepted.ContextMessages);
    }

    [Fact]
    public async Task CancelTurn_FromAnotherReplica_StopsTheTurn()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix, interTokenDelayMs: 20, replyTokens: 500);
        await using var b = await StartReplicaAsync(prefix);

        var turnId = await StartAndLeaveAsync(a.CreateClient(), new TurnRequest { Message = "cancel me elsewhere", Detach = true });
        var cancelled = await b.CreateClient().CancelTurnAsync(new CancelTurnRequest { TurnId = turnId }).ResponseAsync.DefaultTimeout();
        var events = await ResumeAsync(b.CreateClient(), turnId, afterSequence: 0);

        Assert.True(cancelled.Cancelled);
        Assert.Equal("CANCELLED", events[^1].Error.Code);
        Assert.True(events.Count < 400);
        var again = await b.CreateClient().CancelTurnAsync(new CancelTurnRequest { TurnId = turnId }).ResponseAsync.DefaultTimeout();
        Assert.False(again.Cancelled);
    }

    [Fact]
    public async Task ResumeTurn_OfUnknownTurnOrAnotherPrincipal_ReturnsNotFound()
    {
        await using var a = await StartReplicaAsync(NewPrefix());
        var client = a.CreateClient();
        var events = await client.RunTurnAsync(new TurnRequest { Message = "mine", Principal = "alice" }).DefaultTimeout();

        var unknown = await Assert.ThrowsAsync<RpcException>(() => ResumeAsync(client, Guid.NewGuid().ToString("N"), 0, "alice"));
        var foreign = await Assert.ThrowsAsync<RpcException>(() => ResumeAsync(client, events[0].TurnId, 0, "bob"));

        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(StatusCode.NotFound, foreign.StatusCode);
    }

    [Fact]
    public async Task ConcurrentTurns_OnOneSession_TheSecondIsAborted_AndTheFirstCompletes()
    {
        await using var a = await StartReplicaAsync(NewPrefix(), interTokenDelayMs: 10, replyTokens: 30);
        var client = a.CreateClient();
        var session = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        using var first = client.StreamTurn(new TurnRequest { SessionId = session.Id, Message = "first" });
        Assert.True(await first.ResponseStream.MoveNext().DefaultTimeout());
        var second = await Assert.ThrowsAsync<RpcException>(() => client.RunTurnAsync(session.Id, "second").DefaultTimeout());
        var rest = new List<TurnEvent>();
        await foreach (var turnEvent in first.ResponseStream.ReadAllAsync().WithCancellation(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
        {
            rest.Add(turnEvent);
        }

        Assert.Equal(StatusCode.Aborted, second.StatusCode);
        Assert.NotNull(rest[^1].Completed);
        var third = await client.RunTurnAsync(session.Id, "third").DefaultTimeout();
        Assert.NotNull(third[^1].Completed);
        Assert.Equal(2, third[0].Accepted.ContextMessages);
    }

    [Fact]
    public async Task TurnLongerThanTheLockLease_KeepsTheSessionLockedUntilItEnds()
    {
        var prefix = NewPrefix();
        // A 1 s lease and a turn of about 3 s (60 tokens × 50 ms): only renewal can keep the second turn out.
        var lease = new Dictionary<string, string?>
        {
            ["Llm:Sessions:KeyPrefix"] = prefix,
            ["Llm:Sessions:TurnLockTimeout"] = "00:00:01",
            ["Llm:Offline:InterTokenDelayMs"] = "50",
            ["Llm:Offline:ReplyTokens"] = "60",
        };
        await using var a = await LlmServiceHost.StartAsync(redis.ConnectionString, lease).DefaultTimeout();
        await using var b = await LlmServiceHost.StartAsync(redis.ConnectionString, lease).DefaultTimeout();
        var session = await a.CreateClient().CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        using var first = a.CreateClient().StreamTurn(new TurnRequest { SessionId = session.Id, Message = "long one" });
        Assert.True(await first.ResponseStream.MoveNext().DefaultTimeout());
        await Task.Delay(TimeSpan.FromSeconds(2));
        var refused = await Assert.ThrowsAsync<RpcException>(() => b.CreateClient().RunTurnAsync(session.Id, "meanwhile").DefaultTimeout());
        Assert.Equal(StatusCode.Aborted, refused.StatusCode);
        await foreach (var _ in first.ResponseStream.ReadAllAsync().WithCancellation(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
        {
        }

        var next = await a.CreateClient().RunTurnAsync(session.Id, "after it").DefaultTimeout();
        Assert.NotNull(next[^1].Completed);
    }

    [Fact]
    public async Task GetStats_IsTheSameOnEveryReplica()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix);
        await using var b = await StartReplicaAsync(prefix);
        await a.CreateClient().RunTurnAsync(new TurnRequest { Message = "one" }).DefaultTimeout();
        await b.CreateClient().RunTurnAsync(new TurnRequest { Message = "two" }).DefaultTimeout();
        await b.CreateClient().CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        var fromA = await a.CreateClient().GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
        var fromB = await b.CreateClient().GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();

        foreach (var stats in new[] { fromA, fromB })
        {
            Assert.Equal(2, stats.TotalTurns);
            Assert.Equal(2, stats.SucceededTurns);
            Assert.Equal(0, stats.FailedTurns);
            Assert.Equal(3, stats.SessionsCreated);
            Assert.Equal(3, stats.ActiveSessions);
            Assert.True(stats.AverageLatencySeconds >= 0);
        }

        Assert.Equal(fromA.StartedAt, fromB.StartedAt);
    }

    [Fact]
    public async Task WatchSession_OnOneReplica_SeesTypingAndMessageAddedFromAnother()
    {
        var prefix = NewPrefix();
        await using var a = await StartReplicaAsync(prefix);
        await using var b = await StartReplicaAsync(prefix);
        var session = await a.CreateClient().CreateSessionAsync(new CreateSessionRequest { Principal = "carol" }).ResponseAsync.DefaultTimeout();

        using var watch = b.CreateClient().WatchSession(new WatchSessionRequest { SessionId = session.Id, Principal = "carol" },
            cancellationToken: Infrastructure.TaskExtensions.DefaultTimeoutToken());
        await watch.ResponseHeadersAsync.DefaultTimeout();

        var published = await a.CreateClient().PublishSessionEventAsync(new SessionEvent
        {
            SessionId = session.Id, Type = "user_typing", Typing = true, ConnectionId = "ws-1", Origin = "websocket/0", Principal = "carol",
        }).ResponseAsync.DefaultTimeout();
        await a.CreateClient().RunTurnAsync(session.Id, "hello watchers", "carol").DefaultTimeout();

        Assert.True(await watch.ResponseStream.MoveNext().DefaultTimeout());
        var typing = watch.ResponseStream.Current;
        Assert.True(await watch.ResponseStream.MoveNext().DefaultTimeout());
        var added = watch.ResponseStream.Current;

        Assert.True(published.Receivers >= 1);
        Assert.Equal(("user_typing", true, "ws-1"), (typing.Type, typing.Typing, typing.ConnectionId));
        Assert.Equal("message_added", added.Type);
        Assert.Equal(2, added.MessageCount);
        Assert.Equal("hello watchers", added.LastMessagePreview); // the user's message, as the original previewed it
    }

    [Fact]
    public async Task WatchSession_OfAnotherPrincipal_ReturnsNotFound()
    {
        await using var a = await StartReplicaAsync(NewPrefix());
        var session = await a.CreateClient().CreateSessionAsync(new CreateSessionRequest { Principal = "dave" }).ResponseAsync.DefaultTimeout();
        using var watch = a.CreateClient().WatchSession(new WatchSessionRequest { SessionId = session.Id, Principal = "eve" });

        var error = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext().DefaultTimeout());
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    /// <summary>Starts a turn, reads its first delta (so it is running), then goes away.</summary>
    private static async Task<string> StartAndLeaveAsync(LlmService.LlmServiceClient client, TurnRequest request)
    {
        using var leave = new CancellationTokenSource();
        using var call = client.StreamTurn(request, cancellationToken: leave.Token);
        string? turnId = null;
        await foreach (var turnEvent in call.ResponseStream.ReadAllAsync().WithCancellation(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
        {
            turnId = turnEvent.TurnId;
            if (turnEvent.Delta is not null)
            {
                break;
            }
        }

        await leave.CancelAsync();
        return turnId!;
    }

    private static async Task<List<TurnEvent>> ResumeAsync(LlmService.LlmServiceClient client, string turnId, long afterSequence, string principal = "")
    {
        using var call = client.ResumeTurn(new ResumeTurnRequest { TurnId = turnId, AfterSequence = afterSequence, Principal = principal },
            cancellationToken: Infrastructure.TaskExtensions.DefaultTimeoutToken());
        var events = new List<TurnEvent>();
        await foreach (var turnEvent in call.ResponseStream.ReadAllAsync().WithCancellation(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
        {
            events.Add(turnEvent);
        }

        return events;
    }
}
