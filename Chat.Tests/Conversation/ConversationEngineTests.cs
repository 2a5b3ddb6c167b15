using Chat.Contracts.Llm.V1;
using Chat.Conversation.Engine;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Core;

namespace Chat.Tests.Conversation;

/// <summary>
/// The conversation engine on an in-memory framing, against a real Chat.Llm.Service and Redis (<see cref="BidiFixture"/>:
/// one instant replica, one paced): the events it tells, in order and with positions, the per-connection state, the
/// settings where the protocols differ, resume, and the outgoing queue's back-pressure, overflow and watchdog.
/// </summary>
[Collection(BidiCollection.Name)]
public sealed class ConversationEngineTests(BidiFixture fixture)
{
    private static ConversationSettings WebSocketLike(bool strict = false, int capacity = 64) => new()
    {
        QueueCapacity = capacity,
        SlowReader = SlowReaderPolicy.Disconnect,
        Detach = true,
        NewSessionWhenNone = true,
        GetOrCreate = !strict,
    };

    private static ConversationSettings GrpcLike(int capacity = 64) => new()
    {
        QueueCapacity = capacity,
        SlowReader = SlowReaderPolicy.Backpressure,
        Detach = true,
        NewSessionWhenNone = false,
        GetOrCreate = false,
        EndOnUnknownSession = true,
        EndOnServiceFailure = true,
    };

    [Fact]
    public async Task Chat_WithoutASession_StartsOne_AndTellsTheReplyInOrder_EveryEventWithItsPosition()
    {
        var client = InMemoryFraming.Start(fixture.Llm, WebSocketLike());

        await client.Conversation.HandleAsync(new ChatCommand(null, "Hello engine"));
        var frames = await client.UntilAsync<ReplyCompletedEvent>();

        var created = Assert.IsType<SessionCreatedEvent>(frames[0]);
        var accepted = Assert.IsType<ReplyAcceptedEvent>(frames[1]);
        var started = Assert.IsType<ReplyStartedEvent>(frames[2]);
        var chunks = frames.OfType<ReplyChunk>().ToList();
        var completed = Assert.IsType<ReplyCompletedEvent>(frames[^1]);
        Assert.Equal(created.SessionId, client.Conversation.SessionId);
        Assert.Equal(created.SessionId, accepted.SessionId);
        Assert.Equal(1, accepted.Position);
        Assert.Null(started.Resume);
        Assert.Matches("^[0-9a-f]{12}$", started.Epoch);
        Assert.Equal(frames.Count - 4, chunks.Count);
        Assert.Equal(Enumerable.Range(1, chunks.Count), chunks.Select(c => c.ChunkNumber));
        Assert.Equal(chunks.Select(c => (long)c.ChunkNumber + 1), chunks.Select(c => c.Position));
        Assert.Equal(chunks.Count + 2, completed.Position);
        Assert.Equal(string.Concat(chunks.Select(c => c.Text)), completed.Completed.FullText);
        await client.Conversation.StopAsync(drain: false);
    }

    [Fact]
    public async Task Chat_OnAnUnknownSession_WithoutGetOrCreate_SaysSessionNotFound_AndCreatesNothing()
    {
        var before = await fixture.Llm.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
        var client = InMemoryFraming.Start(fixture.Llm, WebSocketLike(strict: true));
        var unknown = Guid.NewGuid().ToString();

        await client.Conversation.HandleAsync(new ChatCommand(unknown, "Only this session"));
        var notFound = await client.NextOfAsync<SessionNotFoundEvent>();
        await client.Conversation.HandleAsync(new PingCommand(null));
        var pong = await client.NextAsync();

        Assert.Equal(unknown, notFound.SessionId);
        Assert.IsType<PongEvent>(pong); // the connection goes on
        Assert.False(client.Conversation.Ended.IsCancellationRequested);
        var after = await fixture.Llm.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
        Assert.Equal(before.SessionsCreated, after.SessionsCreated);
        await client.Conversation.StopAsync(drain: false);
    }

    [Fact]
    public async Task Chat_OnAnUnknownSession_EndsTheConversation_WhereTheProtocolSaysSo()
    {
        var client = InMemoryFraming.Start(fixture.Llm, GrpcLike());

        await client.Conversation.HandleAsync(new ChatCommand(Guid.NewGuid().ToString(), "Hello?"));
        await client.NextOfAsync<SessionNotFoundEvent>();
        await client.Conversation.WhenRepliesEndedAsync().DefaultTimeout();

        Assert.True(client.Conversation.Ended.IsCancellationRequested);
        Assert.True(client.Conversation.EndedForUnknownSession);
        await client.Conversation.StopAsync(drain: true);
    }

    [Fact]
    public async Task Chat_WithNoSessionAnywhere_IsRejected_WhereNewSessionsAreNotStarted()
    {
        var client = InMemoryFraming.Start(fixture.Llm, GrpcLike());

        await client.Conversation.HandleAsync(new ChatCommand(null, "Hello"));
        var rejected = Assert.IsType<RejectedEvent>(await client.NextAsync());

        Assert.Equal("No session established", rejected.Message);
        Assert.Equal(StatusCode.FailedPrecondition, rejected.Code);
        await client.Conversation.StopAsync(drain: true);
    }

    [Fact]
    public async Task TwoConversationsOnOneSession_HearEachOthersTypingAndReplies_ButNotTheirOwn()
    {
        var alice = InMemoryFraming.Start(fixture.Llm, WebSocketLike());
        var bob = InMemoryFraming.Start(fixture.Llm, WebSocketLike());
        await alice.Conversation.HandleAsync(new CreateSessionCommand(null));
        var sessionId = (await alice.NextOfAsync<SessionCreatedEvent>()).SessionId;
        await bob.Conversation.HandleAsync(new JoinSessionCommand(sessionId));
        await bob.NextOfAsync<SessionJoinedEvent>();

        await alice.Conversation.HandleAsync(new TypingCommand(null, Typing: true));
        var typing = await bob.NextOfAsync<SessionUpdateEvent>();
        await alice.Conversation.HandleAsync(new ChatCommand(null, "Bob, are you there?"));
        var aliceReply = await alice.UntilAsync<ReplyCompletedEvent>();
        var added = await bob.NextOfAsync<SessionUpdateEvent>();
        // Alice's next frame is the pong: neither her typing nor her reply came back to her as an update.
        await alice.Conversation.HandleAsync(new PingCommand(null));
        var aliceNext = await alice.NextAsync();

        Assert.Equal(("user_typing", true, alice.Conversation.ConnectionId), (typing.Update.Type, typing.Update.Typing, typing.Update.ConnectionId));
        Assert.Equal("message_added", added.Update.Type);
        Assert.Equal(2, added.Update.MessageCount);
        Assert.DoesNotContain(aliceReply, f => f is SessionUpdateEvent);
        Assert.IsType<PongEvent>(aliceNext);
        await alice.Conversation.StopAsync(drain: false);
        await bob.Conversation.StopAsync(drain: false);
    }

    [Fact]
    public async Task Cancel_StopsTheReplyInFlight_WithItsPosition()
    {
        var client = InMemoryFraming.Start(fixture.SlowLlm.CreateClient(), WebSocketLike());
        await client.Conversation.HandleAsync(new ChatCommand(null, "Talk for a while"));
        await client.NextOfAsync<ReplyChunk>();

        await client.Conversation.HandleAsync(new CancelCommand(null, null));
        var frames = await client.UntilAsync<ReplyCancelledEvent>();

        var cancelled = (ReplyCancelledEvent)frames[^1];
        var chunks = frames.OfType<ReplyChunk>().Count() + 1;
        Assert.Equal(chunks, cancelled.Chunks);
        Assert.Equal(cancelled.Chunks + 2, cancelled.Position);
        await client.Conversation.StopAsync(drain: false);
    }

    [Fact]
    public async Task Resume_OnAnotherConnection_AfterAPosition_SaysRecovered_ThenExactlyTheRest()
    {
        var first = InMemoryFraming.Start(fixture.SlowLlm.CreateClient(), WebSocketLike());
        await first.Conversation.HandleAsync(new ChatCommand(null, "Survive a reconnect"));
        var before = new List<object>();
        while (before.OfType<ReplyChunk>().Count() < 3)
        {
            before.Add(await first.NextAsync());
        }

        var started = before.OfType<ReplyStartedEvent>().Single();
        var lastSeen = before.OfType<ReplyChunk>().Last();
        await first.Conversation.StopAsync(drain: false); // the connection drops; the reply runs on (detached)

        var second = InMemoryFraming.Start(fixture.FastLlm.CreateClient(), WebSocketLike());
        await second.Conversation.HandleAsync(new ResumeCommand(null, started.ReplyId, new ResumePoint(lastSeen.Position, started.Epoch)));
        var after = await second.UntilAsync<ReplyCompletedEvent>();

        var resumed = Assert.IsType<ReplyStartedEvent>(after[0]);
        Assert.Equal(new ResumeOutcome(true, null), resumed.Resume);
        Assert.Equal(started.Epoch, resumed.Epoch);
        Assert.Equal(started.SessionId, resumed.SessionId);
        var positions = before.OfType<ReplyChunk>().Select(c => c.Position).Concat(after.OfType<ReplyChunk>().Select(c => c.Position)).ToList();
        Assert.Equal(Enumerable.Range(2, positions.Count).Select(p => (long)p), positions);
        var completed = (ReplyCompletedEvent)after[^1];
        Assert.Equal(positions[^1] + 1, completed.Position);
        Assert.Equal(
            string.Concat(before.OfType<ReplyChunk>().Concat(after.OfType<ReplyChunk>()).Select(c => c.Text)),
            completed.Completed.FullText);
        Assert.Equal(started.SessionId, second.Conversation.SessionId); // the resume attached it to the reply's session
        await second.Conversation.StopAsync(drain: false);
    }

    [Fact]
    public async Task Resume_WithAStaleEpoch_SaysEpochChanged_ThenTheWholeReply_AndAnUnknownReplyIsExpired()
    {
        var client = InMemoryFraming.Start(fixture.Llm, WebSocketLike());
        await client.Conversation.HandleAsync(new ChatCommand(null, "Remember this"));
        var original = await client.UntilAsync<ReplyCompletedEvent>();
        var replyId = ((ReplyAcceptedEvent)original[1]).ReplyId;

        await client.Conversation.HandleAsync(new ResumeCommand(null, replyId, new ResumePoint(4, "0123456789ab")));
        var replayed = await client.UntilAsync<ReplyCompletedEvent>();
        await client.Conversation.HandleAsync(new ResumeCommand(null, Guid.NewGuid().ToString("N"), new ResumePoint(4, "0123456789ab")));
        var expired = await client.NextOfAsync<ReplyExpiredEvent>();

        Assert.Equal(new ResumeOutcome(false, ResumeReasons.EpochChanged), ((ReplyStartedEvent)replayed[0]).Resume);
        Assert.Equal(original.OfType<ReplyChunk>().Select(c => (c.Position, c.Text)), replayed.OfType<ReplyChunk>().Select(c => (c.Position, c.Text)));
        Assert.NotEqual(replyId, expired.ReplyId);
        await client.Conversation.StopAsync(drain: false);
    }

    [Fact]
    public async Task SlowReader_ThatLetsTheQueueOverflow_IsDisconnectedOnce_AndCounted()
    {
        var client = InMemoryFraming.Start(fixture.Llm, WebSocketLike(capacity: 4), holdWrites: true);

        for (var i = 0; i < 50 && Volatile.Read(ref client.Overflows) == 0; i++)
        {
            await client.Conversation.HandleAsync(new PingCommand(null));
        }

        await client.Conversation.HandleAsync(new PingCommand(null));
        Assert.Equal(1, client.Overflows);
        Assert.True(client.Conversation.Closing);
        Assert.Equal(1, client.Telemetry.StreamsDropped);
        client.ReleaseWrites();
        await client.Conversation.StopAsync(drain: false).DefaultTimeout();
        Assert.Equal(1, client.Finishes); // the goodbye still goes out, after the frame in flight
    }

    [Fact]
    public async Task SlowReader_UnderBackpressure_PacesTheReply_AndLosesNothing()
    {
        var sessionId = (await fixture.Llm.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout()).Id;
        var client = InMemoryFraming.Start(fixture.Llm, GrpcLike(capacity: 4), holdWrites: true);

        await client.Conversation.HandleAsync(new ChatCommand(sessionId, "A reply bigger than the queue"));
        await client.WriteHeld.Task.DefaultTimeout();
        client.ReleaseWrites();
        var frames = await client.UntilAsync<ReplyCompletedEvent>();

        var chunks = frames.OfType<ReplyChunk>().ToList();
        Assert.True(chunks.Count > 4);
        Assert.Equal(Enumerable.Range(1, chunks.Count), chunks.Select(c => c.ChunkNumber));
        Assert.Equal(string.Concat(chunks.Select(c => c.Text)), ((ReplyCompletedEvent)frames[^1]).Completed.FullText);
        Assert.Equal(0, client.Overflows);
        await client.Conversation.StopAsync(drain: true);
    }

    [Fact]
    public async Task AWriteThatStaysPending_PastTheWriteTimeout_AbortsTheConnection()
    {
        var client = InMemoryFraming.Start(fixture.Llm, WebSocketLike(), writeTimeout: TimeSpan.FromMilliseconds(200), holdWrites: true);

        await client.Conversation.HandleAsync(new PingCommand(null));
        await client.WriteHeld.Task.DefaultTimeout();

        await client.Aborted.Task.DefaultTimeout();
        Assert.Equal(1, client.Telemetry.StreamsDropped);
        await client.Conversation.StopAsync(drain: false).DefaultTimeout();
    }

    [Fact]
    public async Task StopWithDrain_WritesWhatIsQueued_AndCloseDropsIt()
    {
        var drained = InMemoryFraming.Start(fixture.Llm, GrpcLike(), holdWrites: true);
        var closed = InMemoryFraming.Start(fixture.Llm, WebSocketLike(), holdWrites: true);
        foreach (var client in new[] { drained, closed })
        {
            for (var i = 0; i < 3; i++)
            {
                await client.Conversation.HandleAsync(new PingCommand(null));
            }

            await client.WriteHeld.Task.DefaultTimeout();
        }

        var draining = drained.Conversation.StopAsync(drain: true);
        closed.Conversation.Close();
        var closing = closed.Conversation.StopAsync(drain: false);
        drained.ReleaseWrites();
        closed.ReleaseWrites();
        await Task.WhenAll(draining, closing).DefaultTimeout();

        Assert.Equal(3, drained.Releases);
        Assert.Equal(3, closed.Releases);
        Assert.Equal(3, drained.Writes);
        Assert.Equal(1, closed.Writes); // the one in flight; the rest dropped
    }
}
