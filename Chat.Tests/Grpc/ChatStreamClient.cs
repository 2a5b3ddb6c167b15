using Chat.Contracts.Public;
using Grpc.Core;
using Timeouts = Chat.Tests.Infrastructure.TaskExtensions;

namespace Chat.Tests.Grpc;

/// <summary>A bidi Chat call for tests: write requests, read responses with every wait bounded.</summary>
public sealed class ChatStreamClient : IDisposable
{
    private readonly AsyncDuplexStreamingCall<ChatRequest, ChatResponse> _call;

    public ChatStreamClient(ChatService.ChatServiceClient client, Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>
        _call = client.Chat(headers, deadline ?? DateTime.UtcNow.Add(Timeouts.DefaultTimeoutSpan), cancellationToken);

    public AsyncDuplexStreamingCall<ChatRequest, ChatResponse> Call => _call;

    public Task SendAsync(ChatRequest request) => _call.RequestStream.WriteAsync(request).WaitAsync(Timeouts.DefaultTimeoutSpan);

    public Task SendMessageAsync(string sessionId, string message) =>
        SendAsync(new ChatRequest { Type = ChatRequest.Types.MessageType.Message, SessionId = sessionId, Message = message });

    public Task CompleteAsync() => _call.RequestStream.CompleteAsync().WaitAsync(Timeouts.DefaultTimeoutSpan);

    /// <summary>The next response, or null when the server ended the call (OK).</summary>
    public async Task<ChatResponse?> ReadAsync() =>
        await _call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeouts.DefaultTimeoutSpan) ? _call.ResponseStream.Current : null;

    public async Task<ChatResponse> ReadResponseAsync() =>
        await ReadAsync() ?? throw new Xunit.Sdk.XunitException("the server ended the Chat call instead of answering");

    public async Task<List<ChatResponse>> ReadUntilAsync(ChatResponse.Types.ResponseType type)
    {
        var responses = new List<ChatResponse>();
        while (true)
        {
            var response = await ReadResponseAsync();
            responses.Add(response);
            if (response.Type == type)
            {
                return responses;
            }
        }
    }

    public void Dispose() => _call.Dispose();
}
