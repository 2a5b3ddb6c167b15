namespace Chat.Conversation.Engine;

/// <summary>
/// What a client asks of its conversation, whatever the framing (a JSON text frame, a protobuf ChatRequest). A
/// command that names a session attaches the connection to it (see <see cref="ConversationEngine{TFrame}"/>), except
/// the ones that do so themselves once they succeed (<see cref="ChatCommand"/>, <see cref="JoinSessionCommand"/>).
/// </summary>
public abstract record ConversationCommand(string? SessionId);

public sealed record PingCommand(string? SessionId) : ConversationCommand(SessionId);

public sealed record CreateSessionCommand(string? ModelId) : ConversationCommand((string?)null);

public sealed record JoinSessionCommand(string? SessionId) : ConversationCommand(SessionId);

/// <summary>A user message: a new reply on the named session, else on the connection's.</summary>
public sealed record ChatCommand(string? SessionId, string? Message) : ConversationCommand(SessionId);

public sealed record TypingCommand(string? SessionId, bool Typing) : ConversationCommand(SessionId);

/// <summary>Stops the named reply, else the one in flight.</summary>
public sealed record CancelCommand(string? SessionId, string? ReplyId) : ConversationCommand(SessionId);

/// <summary>
/// Continues a reply after the last position the client has (<see cref="ResumePoint"/>), on any replica, from any
/// transport the reply started on.
/// </summary>
public sealed record ResumeCommand(string? SessionId, string? ReplyId, ResumePoint From) : ConversationCommand(SessionId);

/// <summary>Listens to the session's updates only (gRPC WatchSession): attaches, then says so.</summary>
public sealed record WatchCommand(string SessionId) : ConversationCommand(SessionId);

/// <summary>
/// Where a resume continues: after <paramref name="Position"/> (the reply's event position, the same on every
/// transport), checked against <paramref name="Epoch"/> when the client names one. Clients of the first resume form
/// name only the last chunk number they have; chunk <c>n</c> is at position <c>n + 1</c> (position 1 is the reply's
/// acceptance).
/// </summary>
public readonly record struct ResumePoint(long Position, string? Epoch)
{
    public static ResumePoint FromLastChunk(int lastChunkNumber) => new(lastChunkNumber > 0 ? lastChunkNumber + 1L : 0, null);
}
