using System.Runtime.CompilerServices;

namespace Chat.Cli.Transports;

/// <summary>REST: <c>POST /chat</c> answers with the whole reply; cancelling aborts the request.</summary>
public sealed class RestTransport(Uri baseUrl, TimeSpan requestTimeout, bool strictSession = false)
    : HttpChatTransport(Protocols.Rest, baseUrl, requestTimeout, strictSession)
{
    // The REST service has no chat page of its own.
    public override Uri? DemoUri => null;

    public override async IAsyncEnumerable<ChatEvent> SendAsync(
        string? sessionId, string message, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = ChatRequest("/chat", message, sessionId);
        using var response = await SendRequestAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken, cancellationToken);
        var body = await ReadJsonAsync(response, cancellationToken);
        var text = body.String("response") ?? throw Malformed("/chat");

        yield return new SessionEvent(body.String("session_id") ?? sessionId ?? "", body.String("model"), body.Bool("is_new_session") ?? false);
        yield return new ChunkEvent(text, 1);
        yield return new CompletedEvent(
            TotalChunks: 1,
            ProcessingTimeSeconds: body.Double("processing_time"),
            MessageCount: body.Int("message_count"),
            // Our REST service nests usage ({input_tokens, output_tokens, total_tokens}); the original had none.
            InputTokens: body.Child("usage").Int("input_tokens") ?? body.Int("input_tokens"),
            OutputTokens: body.Child("usage").Int("output_tokens") ?? body.Int("output_tokens"),
            FinishReason: body.String("finish_reason"),
            FullResponse: text);
    }
}
