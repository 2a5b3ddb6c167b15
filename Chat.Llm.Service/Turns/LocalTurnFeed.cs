using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Chat.Contracts.Llm.V1;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// A turn running on this replica, as seen by resumers on the same replica: every event so far, in memory, and each
/// new one at once. Resuming here costs no Redis round trip and sees every token as it is emitted, so the Redis
/// buffer can be written in coarse batches: only a resumer on another replica reads it.
/// </summary>
public sealed class LocalTurnFeed(string principal)
{
    private readonly Lock _gate = new();
    private readonly List<TurnEvent> _events = [];
    private readonly List<ChannelWriter<TurnEvent>> _followers = [];
    private bool _ended;

    public string Principal { get; } = principal;

    public void Publish(TurnEvent turnEvent)
    {
        lock (_gate)
        {
            _events.Add(turnEvent);
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

    /// <summary>The events after <paramref name="afterSequence"/>, then the live ones, ending with the turn.</summary>
    public async IAsyncEnumerable<TurnEvent> FollowAsync(long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var live = Channel.CreateUnbounded<TurnEvent>(new() { SingleReader = true, SingleWriter = true });
        lock (_gate)
        {
            // Snapshot and subscription under one lock: no event falls between the two or comes twice.
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
                if (turnEvent.Sequence > afterSequence)
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
