using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Chat.Transports.Shared.Streaming;

namespace Chat.Conversation.Engine;

/// <summary>
/// The outgoing half: every producer (the command loop, replies in the background, session updates) queues frames
/// into one bounded queue, and one writer loop writes them (a socket or a gRPC stream takes one write at a time, and a
/// client that stops reading must not make the server buffer without bound). Replies may fill three quarters of the
/// queue and then wait for room, so a model faster than the client is paced by the client; the rest stays for pongs,
/// errors and session updates, whose overflow means the client stopped reading (<see cref="SlowReaderPolicy"/>). A
/// write pending for <c>Transport:StreamWriteTimeout</c> ends the connection (<see cref="StreamWriteWatchdog"/>).
/// </summary>
public sealed partial class ConversationEngine<TFrame>
{
    private const string QueueFullReason = "queue_full";

    private readonly OutgoingQueue _queue;
    private readonly StreamWriteWatchdog _watchdog;
    private Task _writer = Task.CompletedTask;
    private int _closing;
    private int _overflowed;

    /// <summary>True once <see cref="Close"/> was called: nothing more is written.</summary>
    public bool Closing => Volatile.Read(ref _closing) == 1;

    /// <summary>Starts the writer loop.</summary>
    public void Start() => _writer = RunWriterAsync();

    /// <summary>
    /// Stops writing once the frame in flight is out; queued and later frames are dropped. Then the framing's
    /// <see cref="IConversationFraming{TFrame}.FinishAsync"/> runs (a WebSocket's close frame). False when already closing.
    /// </summary>
    public bool Close()
    {
        if (Interlocked.Exchange(ref _closing, 1) == 1)
        {
            return false;
        }

        _queue.Frames.Writer.TryComplete();
        return true;
    }

    /// <summary>
    /// Ends the conversation. <paramref name="drain"/>: the client is still there and gets everything queued (a gRPC
    /// call whose client finished sending); otherwise replies stop being relayed (they run on in Chat.Llm.Service when
    /// detached) and the connection closes after the frame in flight.
    /// </summary>
    public async Task StopAsync(bool drain)
    {
        if (!drain)
        {
            await _lifetime.CancelAsync();
            Close();
        }

        lock (_gate)
        {
            _watch?.Cancel();
        }

        _queue.Frames.Writer.TryComplete();
        await _writer;
        await _lifetime.CancelAsync();
        _watchdog.Dispose();
    }

    /// <summary>Queues a message that is not part of a reply (an answer, an error), under the slow-reader policy.</summary>
    public ValueTask SendAsync(ConversationEvent conversationEvent)
    {
        if (Closing || !_framing.TryEncode(conversationEvent, out var frame))
        {
            return ValueTask.CompletedTask;
        }

        if (_settings.SlowReader == SlowReaderPolicy.Backpressure)
        {
            return WaitForRoomAsync(frame);
        }

        Enqueue(frame);
        return ValueTask.CompletedTask;
    }

    /// <summary>A session update: ephemeral, never waits.</summary>
    private void SendUpdate(ConversationEvent conversationEvent)
    {
        if (Closing || !_framing.TryEncode(conversationEvent, out var frame))
        {
            return;
        }

        if (_settings.SlowReader == SlowReaderPolicy.Backpressure)
        {
            // A stream too far behind to take it loses the update, not the connection.
            if (!_queue.Frames.Writer.TryWrite(new Queued(frame, IsReply: false)))
            {
                _framing.Release(frame);
            }

            return;
        }

        Enqueue(frame);
    }

    /// <summary>A message of a reply: waits for one of the reply credits.</summary>
    private ValueTask SendReplyAsync(ConversationEvent conversationEvent) =>
        Closing || !_framing.TryEncode(conversationEvent, out var frame) ? ValueTask.CompletedTask : EnqueueReplyAsync(frame);

    /// <summary>A model delta, the per-token path: the framing's pooled frame, a credit, the queue.</summary>
    private ValueTask SendChunkAsync(in ReplyChunk chunk) =>
        Closing ? ValueTask.CompletedTask : EnqueueReplyAsync(_framing.EncodeChunk(chunk));

    // Pooled: a reply waiting for room (a slow client) must not cost a state machine per token.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask EnqueueReplyAsync(TFrame frame)
    {
        try
        {
            await _queue.ReplyCredits.WaitAsync(_lifetime.Token);
        }
        catch (OperationCanceledException)
        {
            _framing.Release(frame);
            return;
        }

        if (!_queue.Frames.Writer.TryWrite(new Queued(frame, IsReply: true)))
        {
            // Only a closed queue refuses a reply frame: its credit guarantees the room.
            Done(new Queued(frame, IsReply: true));
        }
    }

    private async ValueTask WaitForRoomAsync(TFrame frame)
    {
        try
        {
            await _queue.Frames.Writer.WriteAsync(new Queued(frame, IsReply: false), _lifetime.Token);
        }
        catch (Exception exception) when (exception is ChannelClosedException or OperationCanceledException)
        {
            _framing.Release(frame);
        }
    }

    private void Enqueue(TFrame frame)
    {
        if (_queue.Frames.Writer.TryWrite(new Queued(frame, IsReply: false)))
        {
            return;
        }

        _framing.Release(frame);
        if (!Closing && Interlocked.Exchange(ref _overflowed, 1) == 0)
        {
            _services.Telemetry.StreamDropped(_framing.Protocol, QueueFullReason);
            Log.SlowReader(_logger, ConnectionId, _settings.QueueCapacity);
            _framing.QueueOverflowed();
        }
    }

    private async Task RunWriterAsync()
    {
        var reader = _queue.Frames.Reader;
        var lost = false;
        while (!lost && await reader.WaitToReadAsync())
        {
            while (!Closing && reader.TryRead(out var queued))
            {
                _watchdog.WriteStarted();
                try
                {
                    // Frames queued while the last write was in flight go out together: each one but the last of them
                    // unflushed. Nothing waits for more than what is already queued.
                    lost = !await _framing.WriteAsync(queued.Frame, flush: !reader.TryPeek(out _));
                }
                finally
                {
                    _watchdog.WriteEnded();
                    Done(queued);
                }

                if (lost)
                {
                    Log.ConnectionLost(_logger, ConnectionId, "a write failed");
                    Close();
                    break;
                }
            }

            if (Closing)
            {
                break;
            }
        }

        // Closing: what is still queued is dropped.
        while (reader.TryRead(out var dropped))
        {
            Done(dropped);
        }

        if (!lost)
        {
            await _framing.FinishAsync();
        }
    }

    private void Done(Queued queued)
    {
        _framing.Release(queued.Frame);
        if (queued.IsReply)
        {
            _queue.ReplyCredits.Release();
        }
    }

    private readonly record struct Queued(TFrame Frame, bool IsReply);

    private sealed class OutgoingQueue
    {
        public OutgoingQueue(int capacity)
        {
            Frames = Channel.CreateBounded<Queued>(new BoundedChannelOptions(capacity)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
            var credits = Math.Max(1, capacity * 3 / 4);
            ReplyCredits = new SemaphoreSlim(credits, credits);
        }

        public Channel<Queued> Frames { get; }

        /// <summary>One per reply frame in the queue, returned once it is written.</summary>
        public SemaphoreSlim ReplyCredits { get; }
    }
}
