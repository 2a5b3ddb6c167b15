extern alias rest;
extern alias sse;
extern alias streaming;

using Chat.Contracts.Llm.V1;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// What the HTTP transport tests share: one redis-server and two Chat.Llm.Service replicas on it — one answering at
/// once, one with the offline model paced like a real one (300 ms to the first token, then 50 ms per token) for the
/// tests about streaming and resuming. Transports under test start their own hosts pointed at either.
/// </summary>
public sealed class HttpTransportFixture : IAsyncLifetime
{
    public const int PacedTimeToFirstTokenMs = 300;
    public const int PacedInterTokenDelayMs = 50;

    public RedisServer Redis { get; private set; } = null!;

    public LlmServiceHost FastLlm { get; private set; } = null!;

    public LlmServiceHost PacedLlm { get; private set; } = null!;

    private readonly List<IAsyncDisposable> _hosts = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, object> _started = [];

    public LlmService.LlmServiceClient CreateLlmClient() => FastLlm.CreateClient();

    /// <summary>Chat.Rest on the fast LLM service, started once for the collection.</summary>
    public Task<TransportHost<rest::Program>> RestAsync() => SharedHostAsync<rest::Program>("rest-1", FastLlm);

    public Task<TransportHost<rest::Program>> PacedRestAsync() => SharedHostAsync<rest::Program>("rest-paced-1", PacedLlm);

    public Task<TransportHost<streaming::Program>> StreamingAsync() => SharedHostAsync<streaming::Program>("streaming-1", FastLlm);

    public Task<TransportHost<streaming::Program>> PacedStreamingAsync() => SharedHostAsync<streaming::Program>("streaming-paced-1", PacedLlm);

    public Task<TransportHost<sse::Program>> SseAsync() => SharedHostAsync<sse::Program>("sse-1", FastLlm);

    /// <summary>Two Chat.Sse replicas on the paced LLM service (a stream begun on one resumes on the other).</summary>
    public Task<TransportHost<sse::Program>> PacedSseAsync(int replica = 1) => SharedHostAsync<sse::Program>($"sse-paced-{replica}", PacedLlm);

    private async Task<TransportHost<T>> SharedHostAsync<T>(string instance, LlmServiceHost llm) where T : class
    {
        await _gate.WaitAsync().DefaultTimeout();
        try
        {
            if (!_started.TryGetValue(instance, out var host))
            {
                var started = await TransportHost<T>.StartAsync(llm.Address, instance);
                _hosts.Add(started);
                _started[instance] = host = started;
            }

            return (TransportHost<T>)host;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync().DefaultTimeout();
        FastLlm = await LlmServiceHost.StartAsync(Redis.ConnectionString);
        PacedLlm = await LlmServiceHost.StartAsync(Redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Offline:TimeToFirstTokenMs"] = PacedTimeToFirstTokenMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Llm:Offline:InterTokenDelayMs"] = PacedInterTokenDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        if (PacedLlm is not null)
        {
            await PacedLlm.DisposeAsync();
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
public sealed class HttpTransportCollection : ICollectionFixture<HttpTransportFixture>
{
    public const string Name = "http-transports";
}
