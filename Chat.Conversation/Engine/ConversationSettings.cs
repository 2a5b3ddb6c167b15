namespace Chat.Conversation.Engine;

/// <summary>
/// How one connection's conversation behaves where the original protocols differ. Everything else is the same on
/// every framing.
/// </summary>
public sealed record ConversationSettings
{
    /// <summary>Frames queued for the client; replies may fill three quarters and then wait for room.</summary>
    public required int QueueCapacity { get; init; }

    /// <summary>What a full queue means for a message that is not part of a reply.</summary>
    public SlowReaderPolicy SlowReader { get; init; }

    /// <summary>Replies run on when the connection goes (resumable), stopped only by a cancel.</summary>
    public bool Detach { get; init; }

    /// <summary>A message with no session anywhere starts a new one (WebSocket); otherwise "No session established" (gRPC).</summary>
    public bool NewSessionWhenNone { get; init; }

    /// <summary>A message naming an unknown session starts a new one (the original's get-or-create), unless strict.</summary>
    public bool GetOrCreate { get; init; }

    /// <summary>A reply attaches the connection to its session, so its updates arrive (off for single-reply calls).</summary>
    public bool FollowReplySession { get; init; } = true;

    /// <summary>A message on an unknown session ends the conversation (the original gRPC Chat).</summary>
    public bool EndOnUnknownSession { get; init; }

    /// <summary>
    /// Chat.Llm.Service unreachable (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL) ends the conversation with that status
    /// (gRPC: the client retries, maybe elsewhere); otherwise it is an error event and the connection stays.
    /// </summary>
    public bool EndOnServiceFailure { get; init; }
}

public enum SlowReaderPolicy
{
    /// <summary>Any message that finds the queue full disconnects the client (WebSocket 1008).</summary>
    Disconnect,

    /// <summary>
    /// Answers wait for room (the transport's flow control paces the client's requests); session updates that find
    /// the queue full are dropped, being ephemeral (gRPC).
    /// </summary>
    Backpressure,
}
