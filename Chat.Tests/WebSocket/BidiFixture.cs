using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.WebSocket;

/// <summary>
/// A real redis-server and two Chat.Llm.Service replicas on it: one whose offline model answers at once, one that
/// paces its tokens (50 ms apart, ~1.5 s a reply) for tests that act in the middle of a reply.
/// </summary>
public sealed class BidiFixture : IAsyncLifetime
{
    public const int SlowInterTokenDelayMs = 50;

    public RedisServer Redis { get; private set; } = null!;

    public LlmServiceHost FastLlm { get; private set; } = null!;

    public LlmServiceHost SlowLlm { get; private set; } = null!;

    public LlmService.LlmServiceClient Llm => FastLlm.CreateClient();

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync().DefaultTimeout();
        FastLlm = await LlmServiceHost.StartAsync(Redis.ConnectionString);
        SlowLlm = await LlmServiceHost.StartAsync(Redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Offline:TimeToFirstTokenMs"] = "50",
            ["Llm:Offline:InterTokenDelayMs"] = SlowInterTokenDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
    }

    public async Task DisposeAsync()
    {
        if (SlowLlm is not null)
        {
            await SlowLlm.DisposeAsync();
        }

        if (FastLlm is not null)
        {
            await FastLlm.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class BidiCollection : ICollectionFixture<BidiFixture>
{
    public const string Name = "bidi";
}
