using System.Collections.Concurrent;
using Chat.Llm.Service.Sessions;
using Chat.Llm.Service.Telemetry;
using StackExchange.Redis;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// The turns running on this replica, by id, so CancelTurn can stop one wherever it runs: a cancel is published on
/// one Redis channel every replica listens to, and the replica that runs the turn cancels it. Also records the
/// service's first start for the shared uptime. Each running turn's <see cref="LocalTurnFeed"/> lives here until its
/// Redis buffer holds every event, so a resumer on this replica never needs Redis.
/// </summary>
public sealed class TurnRegistry(IConnectionMultiplexer redis, RedisKeys keys, RedisSessionStore store, ILogger<TurnRegistry> logger)
    : IHostedService
{
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();
    private readonly ConcurrentDictionary<string, LocalTurnFeed> _feeds = new();
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Cancelled when the host stops, so detached turns end with the process instead of outliving it.</summary>
    public CancellationToken Stopping => _stopping.Token;

    public int RunningCount => _running.Count;

    public void Register(string turnId, CancellationTokenSource cancellation) => _running[turnId] = cancellation;

    public void Unregister(string turnId) => _running.TryRemove(turnId, out _);

    public LocalTurnFeed AddFeed(string turnId, string sessionId, string principal, string epoch, int maxEvents) =>
        _feeds[turnId] = new LocalTurnFeed(turnId, sessionId, principal, epoch, maxEvents);

    /// <summary>Called once the turn's Redis buffer is complete: later resumers read it there.</summary>
    public void RemoveFeed(string turnId) => _feeds.TryRemove(turnId, out _);

    public bool TryGetFeed(string turnId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LocalTurnFeed? feed) =>
        _feeds.TryGetValue(turnId, out feed);

    public bool CancelLocal(string turnId)
    {
        if (!_running.TryGetValue(turnId, out var cancellation))
        {
            return false;
        }

        Log.TurnCancelRequested(logger, turnId);
        try
        {
            cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        return true;
    }

    public Task<long> PublishCancelAsync(string turnId) =>
        redis.GetSubscriber().PublishAsync(keys.CancelChannel, turnId);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var queue = await redis.GetSubscriber().SubscribeAsync(keys.CancelChannel);
            queue.OnMessage(message => CancelLocal(message.Message.ToString()));
            await store.MarkStartedAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Redis may come up after us: the subscription is restored by the multiplexer when it connects.
            Log.CancelSubscriptionFailed(logger, exception);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        try
        {
            await redis.GetSubscriber().UnsubscribeAsync(keys.CancelChannel);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
        }
    }
}
