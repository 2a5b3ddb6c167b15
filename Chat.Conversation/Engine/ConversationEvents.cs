using Chat.Contracts.Llm.V1;
using Grpc.Core;

namespace Chat.Conversation.Engine;

/// <summary>
/// What the conversation tells its client, whatever the framing. A framing turns each into its protocol's message, or
/// into nothing where its protocol has nothing to say (gRPC has no <c>connected</c>; WebSocket no <c>watching</c>).
/// Events of a reply carry its <c>Position</c>: the reply's event sequence in Chat.Llm.Service, the same on every
/// transport and replica, which a client names to resume.
/// </summary>
public abstract record ConversationEvent;

/// <summary>The connection is open (WebSocket greets; gRPC does not).</summary>
public sealed record ConnectedEvent(string ConnectionId) : ConversationEvent;

public sealed record PongEvent(string? SessionId) : ConversationEvent;

public sealed record SessionCreatedEvent(string SessionId, string Model) : ConversationEvent;

public sealed record SessionJoinedEvent(string SessionId, string Model, int MessageCount) : ConversationEvent;

/// <summary>The connection listens to the session's updates from here on (gRPC WatchSession's first message).</summary>
public sealed record WatchingEvent(string SessionId) : ConversationEvent;

/// <summary>Another connection's typing indicator, or a message stored on the session by someone else.</summary>
public sealed record SessionUpdateEvent(string SessionId, SessionEvent Update) : ConversationEvent;

/// <summary>The model is on it (the original's "Generating response..."): a new reply's first event, position 1.</summary>
public sealed record ReplyAcceptedEvent(string SessionId, string ReplyId, int ContextMessages, long Position) : ConversationEvent;

/// <summary>
/// A reply's stream begins: <c>response_start</c>. <paramref name="Epoch"/> names the reply's resume buffer (a
/// position is only meaningful with it); <paramref name="Resume"/> is set when this is the answer to a resume.
/// </summary>
public sealed record ReplyStartedEvent(string SessionId, string ReplyId, string Epoch, ResumeOutcome? Resume) : ConversationEvent;

/// <summary>
/// Whether a resume delivers every event after the client's position (<paramref name="Recovered"/>), or why not:
/// <see cref="ResumeReasons"/>. Said before anything else of the resumed reply, so a gap is never silent.
/// </summary>
public sealed record ResumeOutcome(bool Recovered, string? Reason);

public static class ResumeReasons
{
    /// <summary>The reply's buffer is gone (past its time to live, or never existed): nothing can be sent.</summary>
    public const string Expired = "expired";

    /// <summary>The buffer dropped the reply's oldest events (it keeps a bounded number); what it still holds follows.</summary>
    public const string Trimmed = "trimmed";

    /// <summary>The buffer was recreated since the client's position was given: the position means nothing in it; the buffer follows from its start.</summary>
    public const string EpochChanged = "epoch_changed";
}

/// <summary>One model delta: the per-token event, passed by reference and framed into pooled buffers or messages.</summary>
public readonly record struct ReplyChunk(string Text, int ChunkNumber, string SessionId, string ReplyId, long EmittedAtTicks, long Position);

public sealed record ReplyCompletedEvent(string SessionId, string ReplyId, TurnCompleted Completed, long Position) : ConversationEvent;

/// <summary>The reply was stopped by a cancel (from this or any other connection).</summary>
public sealed record ReplyCancelledEvent(string SessionId, string ReplyId, int Chunks, long Position) : ConversationEvent;

/// <summary>The reply ended with an error of the model or the service (<see cref="TurnError"/>: safe to show).</summary>
public sealed record ReplyFailedEvent(string SessionId, string ReplyId, TurnError Error, int Chunks, long Position) : ConversationEvent;

/// <summary>A message named a session that does not exist (or is another principal's), and none was created.</summary>
public sealed record SessionNotFoundEvent(string? SessionId) : ConversationEvent;

/// <summary>A resume of a reply whose buffer is gone: <see cref="ResumeReasons.Expired"/>.</summary>
public sealed record ReplyExpiredEvent(string ReplyId) : ConversationEvent;

/// <summary>A call to Chat.Llm.Service was refused or failed (<paramref name="Code"/>, its status detail).</summary>
public sealed record FailureEvent(FailureKind Kind, StatusCode Code, string Detail, string? SessionId, string? ReplyId) : ConversationEvent;

public enum FailureKind
{
    Reply,
    Resume,
    Cancel,
    CreateSession,
    JoinSession,
}

/// <summary>A request refused before anything was asked of Chat.Llm.Service ("Message is required"…).</summary>
public sealed record RejectedEvent(string Message, StatusCode Code, string? SessionId = null, string? ReplyId = null) : ConversationEvent;
