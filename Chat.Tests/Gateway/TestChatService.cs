using Chat.Contracts.Public;
using Grpc.Core;

namespace Chat.Tests.Gateway;

/// <summary>A tiny chat.ChatService: enough to see unary and bidirectional calls cross the gateway.</summary>
public sealed class TestChatService : ChatService.ChatServiceBase
{
    public override Task<CreateSessionResponse> CreateSession(CreateSessionRequest request, ServerCallContext context) =>
        Task.FromResult(new CreateSessionResponse
        {
            SessionId = "session-1",
            Model = request.ModelId,
            Success = true,
            Message = context.GetHttpContext().Request.Protocol,
        });

    /// <summary>
    /// Server streaming: the message echoed as one chunk. "die:&lt;gate&gt;" is a replica dying mid-call: one chunk,
    /// then (once the test has read it, <see cref="BackendGates"/>) the HTTP/2 stream is gone.
    /// </summary>
    public override async Task SendMessage(ChatRequest request, IServerStreamWriter<ChatResponse> responseStream, ServerCallContext context)
    {
        await responseStream.WriteAsync(
            new ChatResponse { Type = ChatResponse.Types.ResponseType.Chunk, ChunkText = request.Message, ChunkNumber = 1 }, context.CancellationToken);
        if (request.Message.StartsWith("die:", StringComparison.Ordinal))
        {
            await BackendGates.WaitAsync(request.Message["die:".Length..]);
            context.GetHttpContext().Abort();
        }
    }

    public override async Task Chat(IAsyncStreamReader<ChatRequest> requestStream, IServerStreamWriter<ChatResponse> responseStream,
        ServerCallContext context)
    {
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            var response = request.Type == ChatRequest.Types.MessageType.Ping
                ? new ChatResponse { Type = ChatResponse.Types.ResponseType.Pong, SessionId = request.SessionId }
                : new ChatResponse { Type = ChatResponse.Types.ResponseType.Chunk, SessionId = request.SessionId, ChunkText = request.Message };
            await responseStream.WriteAsync(response, context.CancellationToken);
        }
    }
}
