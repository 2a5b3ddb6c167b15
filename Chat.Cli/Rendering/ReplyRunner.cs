using System.Diagnostics;
using System.Text;
using Chat.Cli.Transports;

namespace Chat.Cli.Rendering;

/// <summary>
/// Drives one reply: enumerates the transport's events into a sink, measures time to first token and total time,
/// and turns exceptions (transport errors, cancellation) into a <see cref="ReplyOutcome"/> instead of a stack trace.
/// When the server reports a new session for a session the caller named, the sink hears a
/// <see cref="SessionReplacedEvent"/> first, so the replacement is never silent.
/// </summary>
public static class ReplyRunner
{
    public static async Task<ReplyOutcome> RunAsync(
        IChatTransport transport, IAsyncEnumerable<ChatEvent> events, string? sessionId, IReplySink sink, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var requestedSessionId = sessionId;
        var text = new StringBuilder();
        TimeSpan? firstToken = null;
        var chunks = 0;
        CompletedEvent? completed = null;
        ErrorEvent? error = null;
        var cancelled = false;
        var status = "Thinking…";

        var enumerator = events.GetAsyncEnumerator(cancellationToken);
        try
        {
            // Spinner until the first chunk (or the end): the events before it only update the spinner's text.
            var next = enumerator.MoveNextAsync().AsTask();
            await sink.WaitForFirstTokenAsync(FirstTokenAsync(), () => status);

            async Task FirstTokenAsync()
            {
                while (await next)
                {
                    var current = enumerator.Current;
                    if (current is ChunkEvent or CompletedEvent or ErrorEvent)
                    {
                        return;
                    }

                    if (current is StatusEvent { Message.Length: > 0 } statusEvent)
                    {
                        status = statusEvent.Message;
                    }

                    if (current is SessionEvent { SessionId.Length: > 0 } session)
                    {
                        sessionId = session.SessionId;
                        ReportReplacement(session);
                    }

                    sink.OnEvent(current);
                    next = enumerator.MoveNextAsync().AsTask();
                }
            }

            var hasCurrent = await next;
            while (hasCurrent)
            {
                var current = enumerator.Current;
                switch (current)
                {
                    // NDJSON/SSE end with an empty is_final chunk: not a token.
                    case ChunkEvent { Text.Length: > 0 } chunk:
                        firstToken ??= clock.Elapsed;
                        chunks++;
                        text.Append(chunk.Text);
                        break;
                    case CompletedEvent complete:
                        completed = complete;
                        break;
                    case ErrorEvent errorEvent:
                        error = errorEvent;
                        break;
                    case SessionEvent { SessionId.Length: > 0 } session:
                        sessionId = session.SessionId;
                        ReportReplacement(session);
                        break;
                }

                sink.OnEvent(current);
                hasCurrent = await enumerator.MoveNextAsync();
            }

            if (completed is null && error is null)
            {
                error = new ErrorEvent("The reply ended before it was complete.", ChatErrorKind.Unavailable, null);
            }

            void ReportReplacement(SessionEvent session)
            {
                if (session.IsNew && requestedSessionId is { Length: > 0 } requested && session.SessionId != requested)
                {
                    sink.OnEvent(new SessionReplacedEvent(requested, session.SessionId));
                    requestedSessionId = null;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            cancelled = true;
        }
        catch (ChatTransportException e)
        {
            error = new ErrorEvent(e.Message, e.Kind, null);
        }
        finally
        {
            try
            {
                await enumerator.DisposeAsync();
            }
            catch (Exception e) when (e is OperationCanceledException or ChatTransportException or IOException)
            {
                // Disposing a cancelled stream may throw; the outcome is already known.
            }
        }

        var outcome = new ReplyOutcome(transport.Name, sessionId, text.ToString(), firstToken, clock.Elapsed, chunks, completed, error, cancelled);
        sink.OnFinished(outcome);
        return outcome;
    }
}
