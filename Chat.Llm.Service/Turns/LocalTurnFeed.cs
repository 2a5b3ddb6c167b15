using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Chat.Contracts.Llm.V1;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// A turn running on this replica, as seen by resumers on the same replica: the events so far (at most
/// <c>Llm:Resume:MaxBufferedEvents</c>, as the Redis buffer), in memory, and each new one at once. Resuming here costs
/// no Redis round trip and sees every token as it is emitted, so the Redis buffer can be written in coarse batches:
/// only a resumer on another replica reads it. Its epoch is the Redis buffer's (<see cref="TurnEventBuffer"/> says
/// when that changes).
/// </summary>
public sealed class LocalTurnFeed(string turnId, string sessionId, string principal, string epoch, int maxEvents)
{
    private readonly Lock _gate = new();
    private readonly Queue<TurnEvent> _events = new();
    private readonly List<ChannelWriter<TurnEvent>> _followers = [];
    private TurnAccepted? _accepted;
    private string _epoch = epoch;
    private long _last;
    private bool _ended;

    public string Principal { get; } = principal;

    /// <summary>The turn's buffer was recreated with a new epoch.</summary>
    public void EpochChanged(string newEpoch)
    {
        lock (_gate)
        {
            _epoch = newEpoch;
        }
    }

    public void Publish(TurnEvent turnEvent)
    {
        lock (_gate)
        {
            _accepted ??= turnEvent.Accepted;
            _events.Enqueue(turnEvent);
            if (_events.Count > maxEvents)
            {
                _events.Dequeue();
            }

            _last = turnEvent.Sequence;
            var terminal = TurnEventBuffer.IsTerminal(turnEvent);
            _ended |= terminal;
            foreach (var follower in _followers)
            {
                follower.TryWrite(turnEvent);
                if (terminal)
                {
                    follower.TryComplete();
                }
            }

            if (terminal)
            {
                _followers.Clear();
            }
        }
    }

    /// <summary>
    /// The events after <paramref name="afterSequence"/>, then the live ones, ending with the turn. With
    /// <paramref name="reportStatus"/>, a <see cref="ResumeStatus"/> first, and what <see cref="ResumePlan"/> says.
    /// </summary>
    public async IAsyncEnumerable<TurnEvent> FollowAsync(
        long afterSequence, string requestedEpoch, bool reportStatus, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var live = Channel.CreateUnbounded<TurnEvent>(new() { SingleReader = true, SingleWriter = true });
        var replayAfter = afterSequence;
        lock (_gate)
        {
            // Snapshot and subscription under one lock: no event falls between the two or comes twice.
            if (reportStatus)
            {
                var firstHeld = _events.Count > 0 ? _events.Peek().Sequence : _last + 1;
                (var status, replayAfter) = ResumePlan.Decide(afterSequence, requestedEpoch, _epoch, firstHeld, _last, _ended,
                    _accepted ?? new TurnAccepted { SessionId = sessionId, Epoch = _epoch });
                live.Writer.TryWrite(ResumePlan.ToEvent(turnId, status));
            }

            foreach (var turnEvent in _events)
            {
                live.Writer.TryWrite(turnEvent);
            }

            if (_ended)
            {
                live.Writer.TryComplete();
            }
            else
            {
                _followers.Add(live.Writer);
            }
        }

        try
        {
            await foreach (var turnEvent in live.Reader.ReadAllAsync(cancellationToken))
            {
                if (turnEvent.Sequence > replayAfter || turnEvent.KindCase == TurnEvent.KindOneofCase.Resume)
                {
                    yield return turnEvent;
                }

                // The terminal event ends the replay even when the caller already has it: nothing follows it.
                if (TurnEventBuffer.IsTerminal(turnEvent))
                {
                    yield break;
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _followers.Remove(live.Writer);
            }
        }
    }
}
