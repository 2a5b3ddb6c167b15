using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Chat.Cli.Transports;

/// <summary>
/// Server-sent events: <c>POST /chat/stream</c> answers with <c>data:</c> lines holding the NDJSON event objects.
/// Our server adds <c>id:</c> and a reply id, so a dropped stream is resumed with
/// <c>GET /chat/turns/{id}/events</c> and <c>Last-Event-ID</c>.
/// </summary>
public sealed class SseTransport(Uri baseUrl, TimeSpan requestTimeout, ReconnectPolicy? reconnect = null, bool strictSession = false)
    : HttpChatTransport(Protocols.Sse, baseUrl, requestTimeout, strictSession)
{
    private readonly ReconnectPolicy _reconnect = reconnect ?? ReconnectPolicy.Default;

    public override bool SupportsResume => true;

    public override IAsyncEnumerable<ChatEvent> SendAsync(string? sessionId, string message, CancellationToken cancellationToken)
    {
        var reply = new ResumableReply(_reconnect) { SessionId = sessionId };
        return reply.FollowAsync(
            token => OpenAsync(reply, () => ChatRequest("/chat/stream", message, sessionId), token),
            (point, token) => OpenAsync(reply, () => ResumeRequest(point), token),
            point => PendingResume = point,
            Endpoint,
            cancellationToken);
    }

    public override IAsyncEnumerable<ChatEvent> ResumeAsync(ResumePoint resumePoint, CancellationToken cancellationToken)
    {
        var reply = new ResumableReply(_reconnect) { SessionId = resumePoint.SessionId, ReplyId = resumePoint.ReplyId, LastEventId = resumePoint.LastEventId };
        return reply.FollowAsync(
            token => OpenAsync(reply, () => ResumeRequest(resumePoint), token),
            (point, token) => OpenAsync(reply, () => ResumeRequest(point), token),
            point => PendingResume = point,
            Endpoint,
            cancellationToken);
    }

    /// <summary><c>DELETE /chat/turns/{id}</c>, bounded: the reply is being abandoned either way.</summary>
    private async Task CancelTurnAsync(string? replyId)
    {
        if (replyId is null)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            using var response = await Http.DeleteAsync(Route($"/chat/turns/{Uri.EscapeDataString(replyId)}"), timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            // Best effort: the server's turn timeout ends it otherwise.
        }
    }

    private HttpRequestMessage ResumeRequest(ResumePoint point)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Route($"/chat/turns/{Uri.EscapeDataString(point.ReplyId)}/events"));
        if (point.LastEventId is { Length: > 0 } lastEventId)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        return request;
    }

    private async IAsyncEnumerable<ChatEvent> OpenAsync(
        ResumableReply reply, Func<HttpRequestMessage> createRequest, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = createRequest();
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await SendRequestAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken, cancellationToken);
        var body = await response.Content.ReadAsStreamAsync(cancellationToken);

        await using var items = SseParser.Create(body).EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await items.MoveNextAsync())
                {
                    yield break;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Our SSE turns run detached on the server (so they can be resumed): stopping to read is not enough.
                await CancelTurnAsync(reply.ReplyId);
                throw;
            }

            var item = items.Current;
            if (!string.IsNullOrEmpty(item.EventId))
            {
                reply.LastEventId = item.EventId;

                // Our ids are "<turnId>:<sequence>[.<frame>]": the reply id is known from the first event on.
                if (reply.ReplyId is null && item.EventId.LastIndexOf(':') is > 0 and var colon)
                {
                    reply.ReplyId = item.EventId[..colon];
                }
            }

            if (string.IsNullOrWhiteSpace(item.Data))
            {
                continue;
            }

            JsonElement data;
            try
            {
                data = JsonDocument.Parse(item.Data).RootElement.Clone();
            }
            catch (JsonException)
            {
                continue;
            }

            // The reply id may come on any event (turn_id / reply_id), not only on a start event.
            if (reply.ReplyId is null && (data.String("turn_id") ?? data.String("reply_id")) is { Length: > 0 } replyId)
            {
                reply.ReplyId = replyId;
            }

            var type = data.String("type") ?? (item.EventType == SseParser.EventTypeDefault ? null : item.EventType);
            if (data.ToChatEvent(type) is { } chatEvent)
            {
                yield return chatEvent;
            }
        }
    }
}
