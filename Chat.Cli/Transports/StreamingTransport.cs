using System.Net.Http.Headers;
using System.Runtime.CompilerServices;

namespace Chat.Cli.Transports;

/// <summary>
/// Streamable HTTP: <c>POST /chat/stream</c> answers with NDJSON (<c>session_info</c>, <c>status</c>, <c>chunk</c>…,
/// <c>complete</c> or <c>error</c>). Cancelling aborts the request; a lost connection ends the reply with an error.
/// </summary>
public sealed class StreamingTransport(Uri baseUrl, TimeSpan requestTimeout, bool strictSession = false)
    : HttpChatTransport(Protocols.Streaming, baseUrl, requestTimeout, strictSession)
{
    public override async IAsyncEnumerable<ChatEvent> SendAsync(
        string? sessionId, string message, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = ChatRequest("/chat/stream", message, sessionId);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
        using var response = await SendRequestAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken, cancellationToken);
        var body = await response.Content.ReadAsStreamAsync(cancellationToken);

        await using var lines = ReadLinesAsync(body, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            string line;
            Exception? lost = null;
            try
            {
                if (!await lines.MoveNextAsync())
                {
                    yield break;
                }

                line = lines.Current;
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                lost = e;
                line = "";
            }

            if (lost is not null)
            {
                yield return new ErrorEvent($"Connection to {Endpoint} lost mid-reply: {lost.Message}", ChatErrorKind.Unavailable, null);
                yield break;
            }

            if (line.Length > 0 && ParseEvent(line) is { } chatEvent)
            {
                yield return chatEvent;
            }
        }
    }
}
