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
/// each sequence number once. With a status report, both say first what <see cref="ResumePlan"/> decides.
/// </summary>
public sealed class TurnResumer(IConnectionMultiplexer redis, RedisKeys keys, TurnRegistry registry, IOptions<LlmOptions> options)
{
    public IAsyncEnumerable<TurnEvent> ResumeAsync(string turnId, long afterSequence, string principal, CancellationToken cancellationToken) =>
        ResumeAsync(turnId, afterSequence, "", reportStatus: false, principal, cancellationToken);

    /// <param name="requestedEpoch">The epoch <paramref name="afterSequence"/> belongs to; empty: not checked.</param>
    /// <param name="reportStatus">Start with a <see cref="ResumeStatus"/> (see <see cref="ResumePlan"/>).</param>
    public IAsyncEnumerable<TurnEvent> ResumeAsync(
        string turnId, long afterSequence, string requestedEpoch, bool reportStatus, string principal, CancellationToken cancellationToken)
    {
        if (registry.TryGetFeed(turnId, out var feed))
        {
            return feed.Principal == principal
                ? feed.FollowAsync(afterSequence, requestedEpoch, reportStatus, cancellationToken)
                : throw RpcErrors.TurnNotFound();
        }

        return ResumeFromRedisAsync(turnId, afterSequence, requestedEpoch, reportStatus, principal, cancellationToken);
    }

    private async IAsyncEnumerable<TurnEvent> ResumeFromRedisAsync(
        string turnId, long afterSequence, string requestedEpoch, bool reportStatus, string principal,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var meta = await db.HashGetAllAsync(keys.Turn(turnId)).WaitAsync(cancellationToken);
        if (!IsOwner(meta, principal))
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
            // The record and the list together (one transaction), so the epoch and positions describe these events.
            var read = db.CreateTransaction();
            var record = read.HashGetAllAsync(keys.Turn(turnId));
            var list = read.ListRangeAsync(keys.TurnEvents(turnId));
            await read.ExecuteAsync().WaitAsync(cancellationToken);
            meta = await record;
            if (!IsOwner(meta, principal))
            {
                throw RpcErrors.TurnNotFound();
            }

            var buffered = (await list).Select(value => TurnEvent.Parser.ParseFrom((byte[])value!)).ToList();
            var replayAfter = afterSequence;
            if (reportStatus)
            {
                var fields = meta.ToDictionary(e => e.Name.ToString(), e => e.Value);
                var lastHeld = buffered.Count > 0 ? buffered[^1].Sequence : (long)fields.GetValueOrDefault("last", 0);
                var firstHeld = buffered.Count > 0 ? buffered[0].Sequence : lastHeld + 1;
                var epoch = fields.GetValueOrDefault("epoch").ToString();
                // The acceptance (the turn's session) from the buffer, else from the record; before the first batch is
                // written, only the session is known (the acceptance itself then follows in the live tail).
                var accepted = buffered.Count > 0 && buffered[0].Accepted is { } first ? first
                    : fields.GetValueOrDefault("accepted") is { IsNullOrEmpty: false } bytes ? TurnAccepted.Parser.ParseFrom((byte[])bytes!)
                    : new TurnAccepted { SessionId = fields.GetValueOrDefault("session").ToString(), Epoch = epoch };
                (var status, replayAfter) = ResumePlan.Decide(afterSequence, requestedEpoch, epoch,
                    firstHeld, lastHeld, buffered.Count > 0 && TurnEventBuffer.IsTerminal(buffered[^1]), accepted);
                yield return ResumePlan.ToEvent(turnId, status);
            }

            var last = replayAfter;
            foreach (var turnEvent in buffered)
            {
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

            // Past the buffer, only what comes after what it held (a batch published while it was read is in both).
            last = Math.Max(last, buffered.Count > 0 ? buffered[^1].Sequence : 0);

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

    private static bool IsOwner(HashEntry[] meta, string principal)
    {
        var owner = meta.FirstOrDefault(e => e.Name == "principal").Value;
        return meta.Length > 0 && !owner.IsNull && owner == principal;
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
