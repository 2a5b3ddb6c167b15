using System.Collections.Concurrent;
using Chat.Contracts.Public;

namespace Chat.Grpc.Services;

/// <summary>
/// CHUNK messages of one stream, reused: a token costs no new <see cref="ChatResponse"/>. Grpc.AspNetCore serializes
/// a message inside <c>WriteAsync</c>, so once that write has completed the message can be filled again. At most
/// the stream's queue capacity (plus the one being written) is ever out at once.
/// </summary>
public sealed class ChunkResponsePool(int capacity)
{
    private readonly ConcurrentQueue<ChatResponse> _free = new();

    public ChatResponse Rent(string sessionId, string text, int chunkNumber, string replyId, long emittedAt, long position = 0)
    {
        if (!_free.TryDequeue(out var response))
        {
            response = new ChatResponse { Type = ChatResponse.Types.ResponseType.Chunk, IsFinal = false };
        }

        response.SessionId = sessionId;
        response.ChunkText = text;
        response.ChunkNumber = chunkNumber;
        response.ReplyId = replyId;
        response.EmittedAt = emittedAt;
        response.Position = position;
        return response;
    }

    /// <summary>Takes back a CHUNK whose write has completed; other messages are left to the GC.</summary>
    public void Return(ChatResponse response)
    {
        if (response.Type == ChatResponse.Types.ResponseType.Chunk && _free.Count < capacity)
        {
            _free.Enqueue(response);
        }
    }
}
