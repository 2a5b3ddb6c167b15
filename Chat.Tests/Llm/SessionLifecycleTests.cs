using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Grpc.Core;

namespace Chat.Tests.Llm;

[Collection(LlmServiceCollection.Name)]
public sealed class SessionLifecycleTests(LlmServiceFixture fixture)
{
    private readonly LlmService.LlmServiceClient _client = fixture.CreateClient();

    [Fact]
    public async Task CreateSession_ThenGet_ReturnsTheSameSessionWithNoMessages()
    {
        var principal = NewPrincipal();
        var created = await _client.CreateSessionAsync(new CreateSessionRequest { SystemInstruction = "Be brief.", Principal = principal }).ResponseAsync.DefaultTimeout();

        Assert.True(created.Created);
        Assert.True(Guid.TryParse(created.Id, out _));
        Assert.Equal("offline", created.Provider);
        Assert.Equal("offline-echo-1", created.Model);

        var fetched = await _client.GetSessionAsync(new GetSessionRequest { SessionId = created.Id, Principal = principal }).ResponseAsync.DefaultTimeout();
        Assert.Equal(created.Id, fetched.Id);
        Assert.Equal("Be brief.", fetched.SystemInstruction);
        Assert.Equal(0, fetched.MessageCount);
        Assert.False(fetched.Created);
    }

    [Fact]
    public async Task CreateSession_WithModelId_KeepsIt()
    {
        var created = await _client.CreateSessionAsync(new CreateSessionRequest { ModelId = "offline-large" }).ResponseAsync.DefaultTimeout();
        Assert.Equal("offline-large", created.Model);
    }

    [Fact]
    public async Task GetSession_Unknown_ReturnsNotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _client.GetSessionAsync(new GetSessionRequest { SessionId = Guid.NewGuid().ToString() }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task GetSession_MalformedId_ReturnsInvalidArgument()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _client.GetSessionAsync(new GetSessionRequest { SessionId = "not-a-guid" }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task GetSession_OfAnotherPrincipal_ReturnsNotFound()
    {
        var created = await _client.CreateSessionAsync(new CreateSessionRequest { Principal = "alice" }).ResponseAsync.DefaultTimeout();
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _client.GetSessionAsync(new GetSessionRequest { SessionId = created.Id, Principal = "mallory" }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task ListSessions_ReturnsOnlyTheCallersSessions_NewestFirst_InPages()
    {
        var principal = NewPrincipal();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await _client.CreateSessionAsync(new CreateSessionRequest { Principal = principal }).ResponseAsync.DefaultTimeout()).Id);
            await Task.Delay(3);
        }

        await _client.CreateSessionAsync(new CreateSessionRequest { Principal = NewPrincipal() }).ResponseAsync.DefaultTimeout();

        var first = await _client.ListSessionsAsync(new ListSessionsRequest { Principal = principal, PageSize = 3 }).ResponseAsync.DefaultTimeout();
        var second = await _client.ListSessionsAsync(new ListSessionsRequest { Principal = principal, PageSize = 3, PageToken = first.NextPageToken }).ResponseAsync.DefaultTimeout();

        Assert.Equal(5, first.Total);
        Assert.Equal(ids.AsEnumerable().Reverse().Take(3), first.Sessions.Select(s => s.Id));
        Assert.NotEmpty(first.NextPageToken);
        Assert.Equal(ids.Take(2).Reverse(), second.Sessions.Select(s => s.Id));
        Assert.Empty(second.NextPageToken);
    }

    [Fact]
    public async Task DeleteSession_RemovesIt_AndASecondDeleteIsNotFound()
    {
        var principal = NewPrincipal();
        var created = await _client.CreateSessionAsync(new CreateSessionRequest { Principal = principal }).ResponseAsync.DefaultTimeout();
        await _client.RunTurnAsync(created.Id, "hello", principal).DefaultTimeout();

        var deleted = await _client.DeleteSessionAsync(new DeleteSessionRequest { SessionId = created.Id, Principal = principal }).ResponseAsync.DefaultTimeout();
        Assert.True(deleted.Deleted);

        var again = await Assert.ThrowsAsync<RpcException>(() =>
            _client.DeleteSessionAsync(new DeleteSessionRequest { SessionId = created.Id, Principal = principal }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.NotFound, again.StatusCode);
        var list = await _client.ListSessionsAsync(new ListSessionsRequest { Principal = principal }).ResponseAsync.DefaultTimeout();
        Assert.Empty(list.Sessions);
    }

    [Fact]
    public async Task ClearSession_EmptiesHistory_AndKeepsTheSession()
    {
        var principal = NewPrincipal();
        var created = await _client.CreateSessionAsync(new CreateSessionRequest { Principal = principal }).ResponseAsync.DefaultTimeout();
        await _client.RunTurnAsync(created.Id, "remember me", principal).DefaultTimeout();

        var cleared = await _client.ClearSessionAsync(new ClearSessionRequest { SessionId = created.Id, Principal = principal }).ResponseAsync.DefaultTimeout();
        var history = await _client.GetHistoryAsync(new GetHistoryRequest { SessionId = created.Id, Principal = principal }).ResponseAsync.DefaultTimeout();

        Assert.Equal(0, cleared.MessageCount);
        Assert.Empty(history.Messages);
        var next = await _client.RunTurnAsync(created.Id, "fresh start", principal).DefaultTimeout();
        Assert.Contains("Turn 1 ", next.Text());
    }

    internal static string NewPrincipal() => "user-" + Guid.NewGuid().ToString("N")[..8];
}
