namespace Chat.Conversation.Engine;

/// <summary>
/// A transport's side of one connection: turns the conversation's events into its frames and moves them (SignalR's
/// transports to its HubConnectionHandler). The engine calls <see cref="WriteAsync"/> from one writer loop only, so a
/// framing never sees two writes at once.
/// </summary>
/// <typeparam name="TFrame">A frame ready to write: encoded bytes, or a protocol message.</typeparam>
public interface IConversationFraming<TFrame>
{
    /// <summary>The protocol's name for metrics and logs ("websocket", "grpc").</summary>
    string Protocol { get; }

    /// <summary>The frame for an event, or false when this protocol says nothing for it.</summary>
    bool TryEncode(ConversationEvent conversationEvent, out TFrame frame);

    /// <summary>The frame for one model delta: the per-token path, expected to allocate nothing.</summary>
    TFrame EncodeChunk(in ReplyChunk chunk);

    /// <summary>
    /// Writes one frame; false when the connection is gone (nothing more will be written). <paramref name="flush"/> is
    /// false when another frame is already queued behind this one: a framing that can may leave it in its buffer so
    /// both go out in one write (the next write, or the end of the call, flushes it).
    /// </summary>
    ValueTask<bool> WriteAsync(TFrame frame, bool flush);

    /// <summary>Takes back a frame once written or dropped (pooled buffers and messages).</summary>
    void Release(TFrame frame);

    /// <summary>After the last frame of a connection that was not lost: a goodbye, if the protocol has one.</summary>
    ValueTask FinishAsync();

    /// <summary>Ends the connection at once: one write has been pending too long (the client stopped reading).</summary>
    void Abort();

    /// <summary>
    /// The outgoing queue overflowed with messages that do not wait for room (<see cref="SlowReaderPolicy.Disconnect"/>):
    /// the client stopped reading. Counted and logged by the engine; the framing closes in its own idiom.
    /// </summary>
    void QueueOverflowed();
}
