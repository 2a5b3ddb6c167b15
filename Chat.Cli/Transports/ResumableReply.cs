using System.Net.Http;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Grpc.Core;

namespace Chat.Cli.Transports;

/// <summary>
/// Follows one reply and, when the connection drops after the reply started, reconnects and resumes it from the
/// last chunk received (SSE, WebSocket, gRPC). Chunks the server sends again are skipped, so the text is never doubled.
/// </summary>
public sealed class ResumableReply(ReconnectPolicy policy)
{
    private int _lastChunk;

    public string? SessionId { get; set; }

    public string? ReplyId { get; set; }

    /// <summary>The SSE event id of the last event read (SSE numbers events itself; Last-Event-ID resumes after it).</summary>
    public string? LastEventId { get; set; }

    public int LastChunkNumber => _lastChunk;

    public ResumePoint? Point => ReplyId is null ? null : new ResumePoint(SessionId, ReplyId, _lastChunk, LastEventId);

    /// <summary>
    /// Runs <paramref name="open"/> (the first request or a resume), resuming with <paramref name="resume"/> on a lost
    /// connection. <paramref name="setPending"/> receives the point to resume from when the reply could not be finished.
    /// </summary>
    public async IAsyncEnumerable<ChatEvent> FollowAsync(
        Func<CancellationToken, IAsyncEnumerable<ChatEvent>> open,
        Func<ResumePoint, CancellationToken, IAsyncEnumerable<ChatEvent>> resume,
        Action<ResumePoint?> setPending,
        string endpoint,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var source = open(cancellationToken);
        var attempt = 0;
        while (true)
        {
            Exception? lost = null;
            var finished = false;
            await using (var events = source.GetAsyncEnumerator(cancellationToken))
            {
                while (true)
                {
                    ChatEvent next;
                    try
                    {
                        if (!await events.MoveNextAsync())
                        {
                            break;
                        }

                        next = events.Current;
                    }
                    catch (Exception e) when (IsConnectionLoss(e) && !cancellationToken.IsCancellationRequested)
                    {
                        lost = e;
                        break;
                    }

                    if (!Track(next))
                    {
                        continue;
                    }

                    if (next is ChunkEvent)
                    {
                        attempt = 0; // progress: the next loss gets a fresh set of attempts
                    }

                    yield return next;
                    if (next is CompletedEvent or ErrorEvent)
                    {
                        finished = true;
                    }
                }
            }

            if (lost is null || finished)
            {
                setPending(null);
                if (!finished && ReplyId is not null)
                {
                    // The stream ended cleanly but without its last event: the server went away mid-reply.
                    setPending(Point);
                    yield return new ErrorEvent("The reply ended before it was complete; /resume continues it.", ChatErrorKind.Unavailable, null);
                }

                yield break;
            }

            if (Point is not { } point)
            {
                // Lost before the reply had an id: nothing to resume, the turn failed.
                throw lost as ChatTransportException ?? ChatTransportException.Unreachable(endpoint, lost);
            }

            if (++attempt > policy.MaxAttempts)
            {
                setPending(point);
                var gaveUp = policy.MaxAttempts == 0 ? "" : $" Gave up after {policy.MaxAttempts} attempts.";
                yield return new ErrorEvent(
                    $"Connection to {endpoint} lost ({lost.Message}).{gaveUp} /resume continues the reply.",
                    ChatErrorKind.Unavailable, null);
                yield break;
            }

            yield return new ResumingEvent(point.ReplyId, point.LastChunkNumber, attempt);
            await Task.Delay(policy.DelayBefore(attempt), cancellationToken);
            source = resume(point, cancellationToken);
        }
    }

    /// <summary>Records what a resume needs; false for a chunk already received (a replay after resuming).</summary>
    private bool Track(ChatEvent chatEvent)
    {
        switch (chatEvent)
        {
            case SessionEvent session when session.SessionId.Length > 0:
                SessionId = session.SessionId;
                break;
            case ReplyStartedEvent { ReplyId: { Length: > 0 } replyId }:
                ReplyId = replyId;
                break;
            case ChunkEvent chunk when chunk.Number > 0:
                if (chunk.Number <= _lastChunk)
                {
                    return false;
                }

                _lastChunk = chunk.Number;
                break;
        }

        return true;
    }

    public static bool IsConnectionLoss(Exception exception) => exception switch
    {
        ChatTransportException transport => transport.Kind == ChatErrorKind.Unavailable,
        HttpRequestException or IOException or WebSocketException => true,
        RpcException rpc => rpc.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown,
        _ => false,
    };
}
