using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Chat.Contracts.Llm.V1;
using Chat.Llm.Service.Grpc;
using Chat.Llm.Service.Models;
using Chat.Llm.Service.Sessions;
using Microsoft.Extensions.Options;
using Grpc.Core;
using StackExchange.Redis;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// Replays a turn and follows its live tail. A turn running on this replica is followed in memory (every event at
/// once, no Redis). Any other is replayed from its Redis buffer, then followed on the turn's channel in the batches
/// the buffer is written in: it subscribes before reading the buffer, so no batch falls between the two, and passes
/// each sequence number once.
/// </summary>
public sealed class TurnResumer(IConnectionMultiplexer redis, RedisKeys keys, TurnRegistry registry, IOptions<LlmOptions> options)
{
    public IAsyncEnumerable<TurnEvent> ResumeAsync(string turnId, long afterSequence, string principal, CancellationToken cancellationToken)
    {
        if (registry.TryGetFeed(turnId, out var feed))
        {
            return feed.Principal == principal
                ? feed.FollowAsync(afterSequence, cancellationToken)
                : throw RpcErrors.TurnNotFound();
        }

        return ResumeFromRedisAsync(turnId, afterSequence, principal, cancellationToken);
    }

    private async IAsyncEnumerable<TurnEvent> ResumeFromRedisAsync(
        string turnId, long afterSequence, string principal, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var meta = await db.HashGetAllAsync(keys.Turn(turnId)).WaitAsync(cancellationToken);
        var owner = meta.FirstOrDefault(e => e.Name == "principal").Value;
        if (meta.Length == 0 || owner.IsNull || owner != principal)
        {
            throw RpcErrors.TurnNotFound();
        }

        var live = Channel.CreateUnbounded<byte[]>(new() { SingleReader = true });
        var channel = keys.TurnChannel(turnId);
        var subscriber = redis.GetSubscriber();
        Action<RedisChannel, RedisValue> handler = (_, message) => live.Writer.TryWrite((byte[])message!);
        await subscriber.SubscribeAsync(channel, handler).WaitAsync(cancellationToken);
        try
        {
            var last = afterSequence;
            var buffered = await db.ListRangeAsync(keys.TurnEvents(turnId)).WaitAsync(cancellationToken);
            foreach (var value in buffered)
            {
                var turnEvent = TurnEvent.Parser.ParseFrom((byte[])value!);
                if (turnEvent.Sequence > last)
                {
                    last = turnEvent.Sequence;
                    yield return turnEvent;
                }

                // The terminal event ends the replay even when the caller already has it: nothing follows it.
                if (TurnEventBuffer.IsTerminal(turnEvent))
                {
                    yield break;
                }
            }

            // A turn whose replica died never ends: give up after a long silence.
            var silence = options.Value.Resume.SilenceTimeout;
            while (true)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(silence);
                byte[] batch;
                try
                {
                    batch = await live.Reader.ReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new RpcException(new Status(StatusCode.Unavailable, "The turn stopped producing events."));
                }

                foreach (var turnEvent in TurnEventBuffer.DecodeBatch(batch))
                {
                    if (turnEvent.Sequence > last)
                    {
                        last = turnEvent.Sequence;
                        yield return turnEvent;
                    }

                    if (TurnEventBuffer.IsTerminal(turnEvent))
                    {
                        yield break;
                    }
                }
            }
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel, handler);
        }
    }

    /// <summary>Cancels a running turn wherever it runs; false when it is unknown, another's, or already over.</summary>
    public async Task<bool> CancelAsync(string turnId, string principal, CancellationToken cancellationToken)
    {
        var meta = await redis.GetDatabase().HashGetAllAsync(keys.Turn(turnId)).WaitAsync(cancellationToken);
        var fields = meta.ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
        if (!fields.TryGetValue("principal", out var owner))
        {
            throw RpcErrors.TurnNotFound();
        }

        if (owner != principal)
        {
            throw RpcErrors.TurnNotFound();
        }

        if (fields.GetValueOrDefault("state") != "running")
        {
            return false;
        }

        if (!registry.CancelLocal(turnId))
        {
            await registry.PublishCancelAsync(turnId).WaitAsync(cancellationToken);
        }

        return true;
    }
}
