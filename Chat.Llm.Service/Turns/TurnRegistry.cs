using System.Collections.Concurrent;
using Chat.Llm.Service.Models;
using Chat.Llm.Service.Sessions;
using Chat.Llm.Service.Telemetry;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// The turns running on this replica, by id, so CancelTurn can stop one wherever it runs: a cancel is published on
/// one Redis channel every replica listens to, and the replica that runs the turn cancels it. Also records the
/// service's first start for the shared uptime. Each running turn's <see cref="LocalTurnFeed"/> lives here until its
/// Redis buffer holds every event, so a resumer on this replica never needs Redis.
/// <para>
/// It also keeps the running turns' session locks: one tick every third of <c>Llm:Sessions:TurnLockTimeout</c> renews
/// the lock of every turn still running here in one script, instead of a timer and a round trip per turn.
/// </para>
/// </summary>
public sealed class TurnRegistry(
    IConnectionMultiplexer redis, RedisKeys keys, RedisSessionStore store, IOptions<LlmOptions> options, ILogger<TurnRegistry> logger)
    : IHostedService
{
    private readonly ConcurrentDictionary<string, RunningTurn> _running = new();
    private readonly ConcurrentDictionary<string, LocalTurnFeed> _feeds = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task _renewing = Task.CompletedTask;

    /// <summary>Cancelled when the host stops, so detached turns end with the process instead of outliving it.</summary>
    public CancellationToken Stopping => _stopping.Token;

    public int RunningCount => _running.Count;

    /// <summary>A turn started here: cancellable by id, and its session lock renewed until it is unregistered.</summary>
    public void Register(string turnId, string sessionId, CancellationTokenSource cancellation) =>
        _running[turnId] = new RunningTurn(sessionId, cancellation);

    public void Unregister(string turnId) => _running.TryRemove(turnId, out _);

    public LocalTurnFeed AddFeed(string turnId, string sessionId, string principal, string epoch, int maxEvents) =>
        _feeds[turnId] = new LocalTurnFeed(turnId, sessionId, principal, epoch, maxEvents);

    /// <summary>Called once the turn's Redis buffer is complete: later resumers read it there.</summary>
    public void RemoveFeed(string turnId) => _feeds.TryRemove(turnId, out _);

    public bool TryGetFeed(string turnId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LocalTurnFeed? feed) =>
        _feeds.TryGetValue(turnId, out feed);

    public bool CancelLocal(string turnId)
    {
        if (!_running.TryGetValue(turnId, out var turn))
        {
            return false;
        }

        Log.TurnCancelRequested(logger, turnId);
        try
        {
            turn.Cancellation.Cancel();
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

        _renewing = RenewLocksAsync(options.Value.Sessions.TurnLockTimeout / 3, _stopping.Token);
    }

    /// <summary>
    /// Renews the session lock of every turn running here, so only a dead replica's lock ever expires. A turn whose
    /// lock is no longer its own (it expired while Redis was unreachable and another turn took it) is not renewed again.
    /// </summary>
    private async Task RenewLocksAsync(TimeSpan every, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var turns = _running.Where(pair => !pair.Value.LockLost).ToList();
                if (turns.Count == 0)
                {
                    continue;
                }

                try
                {
                    var renewed = await store.RenewTurnLocksAsync(turns.Select(t => (t.Value.SessionId, t.Key)).ToList(), cancellationToken);
                    for (var i = 0; i < turns.Count; i++)
                    {
                        turns[i].Value.LockLost |= !renewed[i];
                    }
                }
                catch (Exception exception) when (exception is RedisException or TimeoutException)
                {
                    // Redis is briefly unreachable: the next tick tries again before the leases run out.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _renewing;
        try
        {
            await redis.GetSubscriber().UnsubscribeAsync(keys.CancelChannel);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
        }
    }

    private sealed class RunningTurn(string sessionId, CancellationTokenSource cancellation)
    {
        public string SessionId { get; } = sessionId;

        public CancellationTokenSource Cancellation { get; } = cancellation;

        public bool LockLost { get; set; }
    }
}
