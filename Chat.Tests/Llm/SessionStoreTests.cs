using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Grpc.Core;

namespace Chat.Tests.Llm;

/// <summary>Conversation state in Redis: idle expiry, the context budget, and survival across restarts.</summary>
[Collection(RedisCollection.Name)]
public sealed class SessionStoreTests(RedisFixture redis)
{
    [Fact]
    public async Task Session_IdleLongerThanTheTimeout_IsGone_WhileAnActiveOneStays()
    {
        await using var host = await LlmServiceHost.StartAsync(redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Sessions:KeyPrefix"] = $"t{Guid.NewGuid():N}:",
            ["Llm:Sessions:IdleTimeout"] = "00:00:01",
        }).DefaultTimeout();
        var client = host.CreateClient();
        var idle = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        var active = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        for (var i = 0; i < 3; i++)
        {
            await Task.Delay(500);
            await client.RunTurnAsync(active.Id, $"still here {i}").DefaultTimeout();
        }

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.GetSessionAsync(new GetSessionRequest { SessionId = idle.Id }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        var stillThere = await client.GetSessionAsync(new GetSessionRequest { SessionId = active.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal(6, stillThere.MessageCount);
        var list = await client.ListSessionsAsync(new ListSessionsRequest()).ResponseAsync.DefaultTimeout();
        Assert.Equal([active.Id], list.Sessions.Select(s => s.Id));
        Assert.Equal(1, list.Total);
    }

    [Fact]
    public async Task Turn_WithABudgetOfTwoMessages_SendsOnlyTheLatestTurn_ButStoresEverything()
    {
        await using var host = await LlmServiceHost.StartAsync(redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Sessions:MaxContextMessages"] = "2",
        }).DefaultTimeout();
        var client = host.CreateClient();
        var session = await client.CreateSessionAsync(new CreateSessionRequest { SystemInstruction = "Stay kind." }).ResponseAsync.DefaultTimeout();
        await client.RunTurnAsync(session.Id, "oldest message").DefaultTimeout();
        await client.RunTurnAsync(session.Id, "middle message").DefaultTimeout();

        var third = await client.RunTurnAsync(session.Id, "newest message").DefaultTimeout();

        Assert.Equal(2, third[0].Accepted.ContextMessages);
        Assert.Equal(4, third[0].Accepted.MessageCount);
        // The offline model sees only what it was sent: the middle turn is now the first it knows of.
        Assert.Contains("\"middle message\"", third.Completed().FullText);
        var history = await client.GetHistoryAsync(new GetHistoryRequest { SessionId = session.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal(6, history.Messages.Count);
        Assert.Equal("oldest message", history.Messages[0].Text);
    }

    [Fact]
    public async Task History_SurvivesARestartOfTheServiceAndOfRedis()
    {
        await using var server = await RedisServer.StartAsync().DefaultTimeout();
        string sessionId;
        await using (var before = await LlmServiceHost.StartAsync(server.ConnectionString).DefaultTimeout())
        {
            var client = before.CreateClient();
            var first = await client.RunTurnAsync(new TurnRequest { Message = "Remember the word: pelican" }).DefaultTimeout();
            sessionId = first[0].Accepted.SessionId;
            await client.RunTurnAsync(sessionId, "Second message").DefaultTimeout();
        }

        await server.RestartAsync().DefaultTimeout();

        await using var after = await LlmServiceHost.StartAsync(server.ConnectionString).DefaultTimeout();
        var third = await RunWhenRedisIsBackAsync(after.CreateClient(), sessionId, "What was the word?");

        Assert.Equal(4, third[0].Accepted.ContextMessages);
        Assert.Contains("Turn 3", third.Completed().FullText);
        Assert.Contains("\"Remember the word: pelican\"", third.Completed().FullText);
        Assert.Equal(6, third.Completed().MessageCount);
    }

    [Fact]
    public async Task Turn_WhileRedisIsDown_ReturnsUnavailable()
    {
        await using var server = await RedisServer.StartAsync().DefaultTimeout();
        await using var host = await LlmServiceHost.StartAsync(server.ConnectionString + ",asyncTimeout=1000,syncTimeout=1000").DefaultTimeout();
        var client = host.CreateClient();
        await client.RunTurnAsync(new TurnRequest { Message = "warm up" }).DefaultTimeout();

        await server.StopAsync().DefaultTimeout();

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.RunTurnAsync(new TurnRequest { Message = "anyone there?" }).DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    private static async Task<List<TurnEvent>> RunWhenRedisIsBackAsync(LlmService.LlmServiceClient client, string sessionId, string message)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await client.RunTurnAsync(sessionId, message).DefaultTimeout();
            }
            catch (RpcException exception) when (exception.StatusCode == StatusCode.Unavailable && attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }
}
