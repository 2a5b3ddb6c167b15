using StackExchange.Redis;

namespace Chat.Tests.Infrastructure;

public class RedisServerTests
{
    [Fact]
    public async Task RestartAsync_KeepsAcknowledgedWrites()
    {
        await using var server = await RedisServer.StartAsync().DefaultTimeout();
        await using (var connection = await server.ConnectAsync().DefaultTimeout())
        {
            await connection.GetDatabase().StringSetAsync("probe", "42").DefaultTimeout();
        }

        await server.RestartAsync().DefaultTimeout();

        await using var again = await server.ConnectAsync().DefaultTimeout();
        Assert.Equal("42", (string?)await again.GetDatabase().StringGetAsync("probe").DefaultTimeout());
    }
}
