using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Grpc.Core;

namespace Chat.Tests.Llm;

[Collection(LlmServiceCollection.Name)]
public sealed class StreamTurnTests(LlmServiceFixture fixture)
{
    private readonly LlmService.LlmServiceClient _client = fixture.CreateClient();

    [Fact]
    public async Task Turn_WithoutSession_CreatesOne_AndStreamsAcceptedDeltasCompleted()
    {
        var events = await _client.RunTurnAsync(new TurnRequest { Message = "Hello there" }).DefaultTimeout();

        Assert.Equal(TurnEvent.KindOneofCase.Accepted, events[0].KindCase);
        Assert.True(events[0].Accepted.SessionCreated);
        Assert.Equal(0, events[0].Accepted.ContextMessages);
        Assert.Equal(TurnEvent.KindOneofCase.Completed, events[^1].KindCase);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.All(events, e => Assert.Equal(events[0].TurnId, e.TurnId));

        var deltas = events.Where(e => e.KindCase == TurnEvent.KindOneofCase.Delta).Select(e => e.Delta).ToList();
        Assert.Equal(Enumerable.Range(1, deltas.Count), deltas.Select(d => d.Index));
        Assert.All(deltas, d => Assert.True(d.EmittedAtTicks > 0));
        var completed = events.Completed();
        Assert.Equal("stop", completed.FinishReason);
        Assert.Equal(deltas.Count, completed.TotalChunks);
        Assert.Equal(string.Concat(deltas.Select(d => d.Text)), completed.FullText);
        Assert.Contains("offline model", completed.FullText);
        Assert.Contains("Hello there", completed.FullText);
        Assert.Equal(2, completed.MessageCount);
        Assert.Equal(deltas.Count, completed.Usage.OutputTokens);
    }

    [Fact]
    public async Task Turn_ThirdReply_RefersToTheFirstMessageAndTheTurnNumber()
    {
        var session = await _client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        await _client.RunTurnAsync(session.Id, "My name is Ada").DefaultTimeout();
        var second = await _client.RunTurnAsync(session.Id, "What is two plus two?").DefaultTimeout();
        var third = await _client.RunTurnAsync(session.Id, "And my name?").DefaultTimeout();

        Assert.Equal(2, second[0].Accepted.ContextMessages);
        Assert.Equal(4, third[0].Accepted.ContextMessages);
        Assert.Equal(4, third[0].Accepted.MessageCount);
        var reply = third.Completed().FullText;
        Assert.Contains("Turn 3", reply);
        Assert.Contains("\"My name is Ada\"", reply);
        Assert.Contains("And my name?", reply);

        var history = await _client.GetHistoryAsync(new GetHistoryRequest { SessionId = session.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal(["user", "model", "user", "model", "user", "model"], history.Messages.Select(m => m.Role));
        Assert.Equal("And my name?", history.Messages[4].Text);
        Assert.Equal(reply, history.Messages[5].Text);

        var fetched = await _client.GetSessionAsync(new GetSessionRequest { SessionId = session.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal(6, fetched.MessageCount);
        Assert.Equal(3, fetched.UserMessages);
        Assert.Equal(3, fetched.ModelMessages);
    }

    [Fact]
    public async Task Turn_OnUnknownSession_ReturnsNotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.RunTurnAsync(Guid.NewGuid().ToString(), "hi").DefaultTimeout());
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task Turn_OnUnknownSessionWithCreateIfMissing_CreatesANewSession()
    {
        var unknown = Guid.NewGuid().ToString();
        var events = await _client.RunTurnAsync(new TurnRequest { SessionId = unknown, Message = "hi", CreateIfMissing = true }).DefaultTimeout();
        Assert.True(events[0].Accepted.SessionCreated);
        Assert.NotEqual(unknown, events[0].Accepted.SessionId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task Turn_WithEmptyMessage_ReturnsInvalidArgument(string message)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.RunTurnAsync(new TurnRequest { Message = message }).DefaultTimeout());
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task Turn_WithMessageOverTheLimit_ReturnsInvalidArgument()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _client.RunTurnAsync(new TurnRequest { Message = new string('x', 32 * 1024 + 1) }).DefaultTimeout());
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("32768", error.Status.Detail);
    }

    [Fact]
    public async Task Turn_WithMalformedSessionId_ReturnsInvalidArgument()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.RunTurnAsync("12345", "hi").DefaultTimeout());
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task Turn_OnAnotherPrincipalsSession_ReturnsNotFound()
    {
        var session = await _client.CreateSessionAsync(new CreateSessionRequest { Principal = "owner" }).ResponseAsync.DefaultTimeout();
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.RunTurnAsync(session.Id, "hi", "intruder").DefaultTimeout());
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task GetStats_CountsTurnsAndSessions()
    {
        var before = await _client.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
        await _client.RunTurnAsync(new TurnRequest { Message = "count me" }).DefaultTimeout();
        var after = await _client.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();

        Assert.True(after.TotalTurns >= before.TotalTurns + 1);
        Assert.True(after.SucceededTurns >= before.SucceededTurns + 1);
        Assert.True(after.SessionsCreated >= before.SessionsCreated + 1);
        Assert.True(after.ActiveSessions >= 1);
        Assert.True(after.UptimeSeconds >= 0);
        Assert.Equal("offline", after.Provider);
        Assert.Equal("offline-echo-1", after.Model);
        Assert.NotEmpty(after.InstanceId);
    }
}
