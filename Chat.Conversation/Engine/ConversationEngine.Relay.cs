using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Hosting;
using Grpc.Core;

namespace Chat.Conversation.Engine;

/// <summary>
/// The turn relay: a reply (a new turn, or a resumed one) read from Chat.Llm.Service and told to the client as
/// accepted → started → chunk… → completed (or cancelled, or failed), every event with its position.
/// </summary>
public sealed partial class ConversationEngine<TFrame>
{
    private async Task StartReplyAsync(ChatCommand chat)
    {
        var sessionId = chat.SessionId ?? SessionId;
        if (sessionId is null && !_settings.NewSessionWhenNone)
        {
            await SendAsync(new RejectedEvent("No session established", StatusCode.FailedPrecondition));
            return;
        }

        if (string.IsNullOrWhiteSpace(chat.Message))
        {
            await SendAsync(new RejectedEvent("Message is required", StatusCode.InvalidArgument, sessionId));
            return;
        }

        var request = new TurnRequest
        {
            SessionId = sessionId ?? "",
            Message = chat.Message,
            CreateIfMissing = _settings.GetOrCreate,
            // Detached replies outlive the connection (buffered in Redis) so a client that drops can resume them;
            // others stop with the caller (its cancellation and deadline reach the model call).
            Detach = _settings.Detach,
            Principal = _principal,
        };
        Track(RelayAsync(cancel => _llm.StreamTurn(request, cancellationToken: cancel), sessionId, resume: null));
    }

    private async Task StartResumeAsync(ResumeCommand resume)
    {
        if (string.IsNullOrWhiteSpace(resume.ReplyId))
        {
            await SendAsync(new RejectedEvent("reply_id is required", StatusCode.InvalidArgument, resume.SessionId));
            return;
        }

        // The LLM service says first whether everything after the client's position follows (and the reply's
        // session), then sends only what comes after it.
        var request = new ResumeTurnRequest
        {
            TurnId = resume.ReplyId,
            AfterSequence = Math.Max(0, resume.From.Position),
            Epoch = resume.From.Epoch ?? "",
            ReportStatus = true,
            Principal = _principal,
        };
        Track(RelayAsync(cancel => _llm.ResumeTurn(request, cancellationToken: cancel), null, resume));
    }

    private async Task RelayAsync(Func<CancellationToken, AsyncServerStreamingCall<TurnEvent>> start, string? sessionId, ResumeCommand? resume)
    {
        var resumed = resume is not null;
        var replyId = resume?.ReplyId;
        int? expectedUpdate = null;
        if (!resumed)
        {
            _ownReplies.TurnRequested();
        }

        // The call stops with the connection until its last event has arrived; after that the connection's end no
        // longer cancels it, so the call is read to its end (the LLM service ends it right after, bounded here) and
        // finishes OK even when the client leaves as soon as it has the reply.
        using var callCancel = new CancellationTokenSource();
        var stopWithConnection = _lifetime.Token.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), callCancel);
        try
        {
            using var call = start(callCancel.Token);
            await foreach (var turnEvent in call.ResponseStream.ReadAllAsync(callCancel.Token))
            {
                replyId = turnEvent.TurnId;
                if (turnEvent.KindCase is TurnEvent.KindOneofCase.Completed or TurnEvent.KindOneofCase.Error)
                {
                    stopWithConnection.Dispose();
                    callCancel.CancelAfter(LlmCalls.LastEventToCallEnd);
                }

                switch (turnEvent.KindCase)
                {
                    case TurnEvent.KindOneofCase.Resume:
                        // A resume's first event: whether every later event follows, said before any of them.
                        var status = turnEvent.Resume;
                        sessionId = status.Accepted?.SessionId ?? "";
                        Volatile.Write(ref _currentReplyId, replyId);
                        Follow(sessionId);
                        await SendReplyAsync(new ReplyStartedEvent(
                            sessionId, replyId, status.Epoch, new ResumeOutcome(status.Recovered, status.Recovered ? null : status.Reason)));
                        break;
                    case TurnEvent.KindOneofCase.Accepted when resumed:
                        // Replayed (the client had nothing yet, or its epoch changed): the resume already started the reply.
                        break;
                    case TurnEvent.KindOneofCase.Accepted:
                        var accepted = turnEvent.Accepted;
                        sessionId = accepted.SessionId;
                        Volatile.Write(ref _currentReplyId, replyId);
                        if (accepted.SessionCreated)
                        {
                            await SendReplyAsync(new SessionCreatedEvent(sessionId, accepted.Model));
                        }

                        Follow(sessionId);
                        expectedUpdate = _ownReplies.TurnAccepted(accepted.MessageCount);
                        await SendReplyAsync(new ReplyAcceptedEvent(sessionId, replyId, accepted.ContextMessages, turnEvent.Sequence));
                        await SendReplyAsync(new ReplyStartedEvent(sessionId, replyId, accepted.Epoch, Resume: null));
                        break;
                    case TurnEvent.KindOneofCase.Delta:
                        var delta = turnEvent.Delta;
                        await SendChunkAsync(new ReplyChunk(delta.Text, delta.Index, sessionId ?? "", replyId, delta.EmittedAtTicks, turnEvent.Sequence));
                        break;
                    case TurnEvent.KindOneofCase.Completed:
                        await SendReplyAsync(new ReplyCompletedEvent(sessionId ?? "", replyId, turnEvent.Completed, turnEvent.Sequence));
                        break;
                    case TurnEvent.KindOneofCase.Error:
                        if (expectedUpdate is { } expected)
                        {
                            _ownReplies.NoReply(expected);
                        }

                        // Every delta came before it, one position each after the acceptance: also right for a resumed
                        // stream that did not see them all.
                        var chunks = (int)Math.Max(0, turnEvent.Sequence - 2);
                        await SendReplyAsync(turnEvent.Error.Code == "CANCELLED"
                            ? new ReplyCancelledEvent(sessionId ?? "", replyId, chunks, turnEvent.Sequence)
                            : new ReplyFailedEvent(sessionId ?? "", replyId, turnEvent.Error, chunks, turnEvent.Sequence));
                        break;
                }
            }
        }
        catch (Exception exception) when (callCancel.IsCancellationRequested
            && exception is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled or StatusCode.DeadlineExceeded })
        {
            // The connection went away (or its deadline passed: the call reports that); a detached reply goes on in
            // Chat.Llm.Service for a resume. Or the call outlived its last event by too long: the client has it all.
        }
        catch (RpcException exception)
        {
            await RelayFailedAsync(exception, sessionId, replyId, resumed);
        }
        finally
        {
            stopWithConnection.Dispose();
            if (!resumed && expectedUpdate is null)
            {
                _ownReplies.TurnRefused();
            }

            if (replyId is not null)
            {
                Interlocked.CompareExchange(ref _currentReplyId, null, replyId);
            }
        }
    }

    /// <summary>A reply attaches the connection to its session (its typing and message updates arrive from here on).</summary>
    private void Follow(string sessionId)
    {
        if (_settings.FollowReplySession && sessionId.Length > 0 && SessionId != sessionId)
        {
            _ = WatchSessionAsync(sessionId);
        }
    }

    private async Task RelayFailedAsync(RpcException exception, string? sessionId, string? replyId, bool resumed)
    {
        switch (exception.StatusCode)
        {
            case StatusCode.NotFound when resumed:
                await SendReplyAsync(new ReplyExpiredEvent(replyId ?? ""));
                break;
            case StatusCode.NotFound:
                await SendReplyAsync(new SessionNotFoundEvent(sessionId));
                if (_settings.EndOnUnknownSession)
                {
                    // The original gRPC Chat ends the stream after an unknown session.
                    EndedForUnknownSession = true;
                    End();
                }

                break;
            case StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal when _settings.EndOnServiceFailure:
                // Nothing this connection can do: end it with the status so the client retries (maybe elsewhere).
                Log.ReplyFailed(_logger, ConnectionId, exception.StatusCode);
                TerminalStatus = new Status(exception.StatusCode, exception.StatusCode == StatusCode.Unavailable
                    ? "The chat service is temporarily unavailable"
                    : exception.Status.Detail);
                End();
                break;
            default:
                // Refusals of this one message (empty, too long, a reply already running, quota): the connection goes on.
                await SendReplyAsync(new FailureEvent(resumed ? FailureKind.Resume : FailureKind.Reply, exception.StatusCode, exception.Status.Detail, sessionId, replyId));
                break;
        }
    }
}
