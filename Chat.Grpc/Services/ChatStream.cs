using System.Text.Json;
using System.Threading.Channels;
using Chat.Contracts.Formats;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Chat.Contracts.Sessions;
using Chat.Transports.Shared.Streaming;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Chat.Grpc.Services;

/// <summary>
/// One Chat call: the bidirectional Chat, or one of its server-streaming halves for gRPC-Web (SendMessage: one
/// request; WatchSession: updates only), which share everything below but the source of requests. Requests are
/// read in order; replies stream in the background (so PING, TYPING and CANCEL get through while a reply runs);
/// responses from every producer go through one bounded queue and one writer (a gRPC stream allows one write at a
/// time). A request naming a session attaches the stream to it: typing and
/// message updates of that session from every replica arrive as SESSION_UPDATE.
/// </summary>
internal sealed partial class ChatStream
{
    private const string GeneratingStatus = "Generating response...";
    private const string WatchingStatus = "Watching session";
    private const string SessionNotFound = "Session not found";

    private readonly IServerStreamWriter<ChatResponse> _responses;
    private readonly ServerCallContext _context;
    private readonly LlmService.LlmServiceClient _llm;
    private readonly StreamWriteWatchdog _writeWatchdog;
    private readonly ILogger _logger;
    private readonly string _principal;
    private readonly string _origin;
    private readonly bool _detach;
    private readonly bool _attachOnMessage;
    private readonly Channel<ChatResponse> _outgoing;
    private readonly CancellationTokenSource _endCall;
    private readonly Lock _gate = new();
    private readonly List<Task> _replies = [];
    private readonly OwnReplyFilter _ownReplies = new();
    private readonly ChunkResponsePool _chunks;

    private string? _sessionId;
    private CancellationTokenSource? _watch;
    private string? _currentReplyId;
    private Status? _terminalStatus;

    public ChatStream(
        IServerStreamWriter<ChatResponse> responses,
        ServerCallContext context,
        LlmService.LlmServiceClient llm,
        GrpcChatOptions options,
        StreamWriteWatchdog writeWatchdog,
        ILogger logger,
        string principal,
        string origin,
        bool detach,
        bool attachOnMessage = true)
    {
        _responses = responses;
        _context = context;
        _llm = llm;
        _writeWatchdog = writeWatchdog;
        _logger = logger;
        _principal = principal;
        _origin = origin;
        _detach = detach;
        _attachOnMessage = attachOnMessage;
        _endCall = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        _chunks = new ChunkResponsePool(options.OutgoingQueueCapacity + 1);
        _outgoing = Channel.CreateBounded<ChatResponse>(new BoundedChannelOptions(options.OutgoingQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string StreamId { get; } = Guid.NewGuid().ToString();

    private CancellationToken CallToken => _context.CancellationToken;

    /// <summary>The bidi Chat: every request the client sends, in order.</summary>
    public Task RunAsync(IAsyncStreamReader<ChatRequest> requests) => RunAsync(async () =>
    {
        try
        {
            await foreach (var request in requests.ReadAllAsync(_endCall.Token))
            {
                await HandleAsync(request);
            }
        }
        catch (OperationCanceledException) when (_endCall.IsCancellationRequested && !CallToken.IsCancellationRequested)
        {
            // Ended by us ("Session not found", as the original), not by the client.
        }
    });

    /// <summary>SendMessage: one request (a MESSAGE), its reply, then the end of the call.</summary>
    public Task RunOneAsync(ChatRequest request) => RunAsync(() => HandleAsync(request));

    /// <summary>WatchSession: the session's updates until the caller goes away.</summary>
    public Task RunWatchAsync(string sessionId) => RunAsync(async () =>
    {
        await WatchSessionAsync(sessionId);
        // A first message once subscribed: the caller knows from here on no update is missed, and every proxy on
        // the way (gRPC-Web over HTTP/1.1 through YARP) has flushed the response.
        await SendAsync(new ChatResponse { Type = ChatResponse.Types.ResponseType.Status, SessionId = sessionId, StatusMessage = WatchingStatus });
        try
        {
            await Task.Delay(Timeout.Infinite, CallToken);
        }
        catch (OperationCanceledException)
        {
            // The caller left: the only way a watch ends.
        }
    });

    private async Task RunAsync(Func<Task> readRequests)
    {
        var writer = WriteLoopAsync();
        try
        {
            await readRequests();

            // The client finished sending (the original client sends one request, then reads to RESPONSE_COMPLETE):
            // let the replies in flight finish, then end the call.
            Task[] replies;
            lock (_gate)
            {
                replies = [.. _replies];
            }

            await Task.WhenAll(replies);
        }
        finally
        {
            lock (_gate)
            {
                _watch?.Cancel();
            }

            _outgoing.Writer.TryComplete();
            await writer;
            _writeWatchdog.Dispose();
        }

        if (_terminalStatus is { } status)
        {
            throw new RpcException(status);
        }
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await foreach (var response in _outgoing.Reader.ReadAllAsync(CallToken))
            {
                _writeWatchdog.WriteStarted();
                try
                {
                    await _responses.WriteAsync(response, CallToken);
                }
                finally
                {
                    _writeWatchdog.WriteEnded();
                }

                _chunks.Return(response);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or InvalidOperationException or IOException)
        {
            Log.StreamLost(_logger, StreamId, exception.Message);
        }
    }

    /// <summary>Replies wait for room in the queue: HTTP/2 flow control paces reading the model's stream.</summary>
    private async Task SendAsync(ChatResponse response)
    {
        // Whole seconds, one shared string per second: a timestamp on every token without an allocation per token.
        response.Timestamp = OriginalFormat.CurrentSecondTimestamp();
        try
        {
            await _outgoing.Writer.WriteAsync(response, CallToken);
        }
        catch (ChannelClosedException)
        {
        }
    }

    private async Task HandleAsync(ChatRequest request)
    {
        if (request.SessionId.Length > 0 && request.SessionId != Volatile.Read(ref _sessionId)
            && request.Type is not ChatRequest.Types.MessageType.Message)
        {
            // A stream that names a session listens to it; MESSAGE attaches once the turn is accepted.
            await WatchSessionAsync(request.SessionId);
        }

        switch (request.Type)
        {
            case ChatRequest.Types.MessageType.Ping:
                await SendAsync(new ChatResponse
                {
                    Type = ChatResponse.Types.ResponseType.Pong,
                    SessionId = request.SessionId.Length > 0 ? request.SessionId : Volatile.Read(ref _sessionId) ?? "",
                    StatusMessage = "pong",
                });
                break;
            case ChatRequest.Types.MessageType.Message:
                await StartTurnAsync(request);
                break;
            case ChatRequest.Types.MessageType.TypingStart or ChatRequest.Types.MessageType.TypingStop:
                await PublishTypingAsync(request);
                break;
            case ChatRequest.Types.MessageType.Cancel:
                await CancelAsync(request.ReplyId.Length > 0 ? request.ReplyId : Volatile.Read(ref _currentReplyId));
                break;
            case ChatRequest.Types.MessageType.Resume:
                await StartResumeAsync(request);
                break;
            default:
                await SendAsync(Error($"Unknown message type: {request.Type}", StatusCode.InvalidArgument, request.SessionId));
                break;
        }
    }

    private async Task StartTurnAsync(ChatRequest request)
    {
        var sessionId = request.SessionId.Length > 0 ? request.SessionId : Volatile.Read(ref _sessionId);
        if (sessionId is null)
        {
            await SendAsync(Error("No session established", StatusCode.FailedPrecondition, null));
            return;
        }

        if (string.IsNullOrWhiteSpace(request.Message))
        {
            await SendAsync(Error("Message is required", StatusCode.InvalidArgument, sessionId));
            return;
        }

        var turn = new TurnRequest
        {
            SessionId = sessionId,
            Message = request.Message,
            // By default the caller's cancellation and deadline stop the model call (propagated by the client
            // factory); a stream opened with chat-resumable: true lets replies run on for a RESUME after a drop.
            Detach = _detach,
            Principal = _principal,
        };
        Track(RelayAsync(() => _llm.StreamTurn(turn, cancellationToken: CallToken), sessionId, afterChunk: 0, resumed: false));
    }

    private async Task StartResumeAsync(ChatRequest request)
    {
        if (request.ReplyId.Length == 0)
        {
            await SendAsync(Error("reply_id is required", StatusCode.InvalidArgument, request.SessionId));
            return;
        }

        // Replayed from the start so the reply's session is known; chunks the client already has are skipped here.
        var resume = new ResumeTurnRequest { TurnId = request.ReplyId, AfterSequence = 0, Principal = _principal };
        Track(RelayAsync(
            () => _llm.ResumeTurn(resume, cancellationToken: CallToken), null, request.LastChunkNumber, resumed: true, request.ReplyId));
    }

    private void Track(Task reply)
    {
        lock (_gate)
        {
            _replies.RemoveAll(task => task.IsCompleted);
            _replies.Add(reply);
        }
    }

    private async Task RelayAsync(
        Func<AsyncServerStreamingCall<TurnEvent>> start, string? sessionId, int afterChunk, bool resumed, string? replyId = null)
    {
        var chunks = 0;
        int? expectedUpdate = null;
        if (!resumed)
        {
            _ownReplies.TurnRequested();
        }

        try
        {
            using var call = start();
            await foreach (var turnEvent in call.ResponseStream.ReadAllAsync(CallToken))
            {
                replyId = turnEvent.TurnId;
                switch (turnEvent.KindCase)
                {
                    case TurnEvent.KindOneofCase.Accepted:
                        sessionId = turnEvent.Accepted.SessionId;
                        Volatile.Write(ref _currentReplyId, replyId);
                        if (_attachOnMessage && Volatile.Read(ref _sessionId) != sessionId)
                        {
                            _ = WatchSessionAsync(sessionId);
                        }

                        if (!resumed)
                        {
                            expectedUpdate = _ownReplies.TurnAccepted(turnEvent.Accepted.MessageCount);
                            await SendAsync(new ChatResponse
                            {
                                Type = ChatResponse.Types.ResponseType.Status,
                                SessionId = sessionId,
                                StatusMessage = GeneratingStatus,
                                // The original counted the new user message (it was added to the history first).
                                ContextMessages = turnEvent.Accepted.ContextMessages + 1,
                                ReplyId = replyId,
                            });
                        }

                        await SendAsync(new ChatResponse
                        {
                            Type = ChatResponse.Types.ResponseType.ResponseStart,
                            SessionId = sessionId,
                            StatusMessage = resumed ? "Resuming response..." : "",
                            ReplyId = replyId,
                        });
                        break;
                    case TurnEvent.KindOneofCase.Delta:
                        chunks = turnEvent.Delta.Index;
                        if (turnEvent.Delta.Index > afterChunk)
                        {
                            await SendAsync(_chunks.Rent(
                                sessionId ?? "", turnEvent.Delta.Text, turnEvent.Delta.Index, replyId, turnEvent.Delta.EmittedAtTicks));
                        }

                        break;
                    case TurnEvent.KindOneofCase.Completed:
                        var completed = turnEvent.Completed;
                        await SendAsync(new ChatResponse
                        {
                            Type = ChatResponse.Types.ResponseType.ResponseComplete,
                            SessionId = sessionId ?? "",
                            TotalChunks = completed.TotalChunks,
                            ProcessingTime = Math.Round(completed.TotalSeconds, 3),
                            MessageCount = completed.MessageCount,
                            IsFinal = true,
                            ReplyId = replyId,
                            FinishReason = completed.FinishReason,
                            InputTokens = completed.Usage?.InputTokens ?? 0,
                            OutputTokens = completed.Usage?.OutputTokens ?? 0,
                            TimeToFirstToken = Math.Round(completed.TimeToFirstTokenSeconds, 3),
                            FullResponse = completed.FullText,
                        });
                        break;
                    case TurnEvent.KindOneofCase.Error:
                        if (expectedUpdate is { } expected)
                        {
                            _ownReplies.NoReply(expected);
                        }

                        var error = turnEvent.Error;
                        await SendAsync(new ChatResponse
                        {
                            Type = ChatResponse.Types.ResponseType.Error,
                            SessionId = sessionId ?? "",
                            ErrorMessage = error.Code == "CANCELLED" ? "Response cancelled" : error.Message,
                            ErrorCode = error.Code,
                            ReplyId = replyId,
                            TotalChunks = chunks,
                        });
                        break;
                }
            }
        }
        catch (Exception exception) when (CallToken.IsCancellationRequested
            && exception is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled or StatusCode.DeadlineExceeded })
        {
            // The caller went away or its deadline passed; the call itself reports that.
        }
        catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound && !resumed)
        {
            // The original ends the stream after an unknown session.
            await SendAsync(Error(SessionNotFound, StatusCode.NotFound, sessionId));
            await _endCall.CancelAsync();
        }
        catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound)
        {
            await SendAsync(Error("Reply not found or expired", StatusCode.NotFound, sessionId, replyId));
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal)
        {
            // Nothing this stream can do: end the call with the status so the client retries (maybe elsewhere).
            Log.TurnFailed(_logger, StreamId, exception.StatusCode);
            _terminalStatus = new Status(exception.StatusCode, exception.StatusCode == StatusCode.Unavailable
                ? "The chat service is temporarily unavailable"
                : exception.Status.Detail);
            await _endCall.CancelAsync();
        }
        catch (RpcException exception)
        {
            // Refusals of this one message (empty, too long, a reply already running, quota): the stream goes on.
            await SendAsync(Error(exception.Status.Detail, exception.StatusCode, sessionId, replyId));
        }
        finally
        {
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

    private async Task CancelAsync(string? replyId)
    {
        if (string.IsNullOrEmpty(replyId))
        {
            await SendAsync(Error("No reply in progress", StatusCode.FailedPrecondition, Volatile.Read(ref _sessionId)));
            return;
        }

        var response = await _llm.CancelTurnAsync(new CancelTurnRequest { TurnId = replyId, Principal = _principal }, cancellationToken: CallToken);
        if (!response.Cancelled)
        {
            await SendAsync(Error("No reply in progress", StatusCode.FailedPrecondition, Volatile.Read(ref _sessionId), replyId));
        }
    }

    private async Task PublishTypingAsync(ChatRequest request)
    {
        var sessionId = request.SessionId.Length > 0 ? request.SessionId : Volatile.Read(ref _sessionId);
        if (sessionId is null)
        {
            return; // typing outside a session goes nowhere
        }

        try
        {
            await _llm.PublishSessionEventAsync(
                Stamp(new SessionEvent { SessionId = sessionId, Type = "user_typing", Typing = request.Type == ChatRequest.Types.MessageType.TypingStart }),
                cancellationToken: CallToken);
        }
        catch (RpcException exception) when (!CallToken.IsCancellationRequested)
        {
            Log.PublishFailed(_logger, sessionId, exception.StatusCode);
        }
    }

    private SessionEvent Stamp(SessionEvent sessionEvent)
    {
        sessionEvent.ConnectionId = StreamId;
        sessionEvent.Origin = _origin;
        sessionEvent.Principal = _principal;
        sessionEvent.At = Timestamp.FromDateTime(DateTime.UtcNow);
        return sessionEvent;
    }

    /// <summary>Listens to the session's updates; returns once subscribed (bounded) so the next update is not missed.</summary>
    private Task WatchSessionAsync(string sessionId)
    {
        CancellationTokenSource watch;
        lock (_gate)
        {
            if (_sessionId == sessionId && _watch is not null)
            {
                return Task.CompletedTask;
            }

            _watch?.Cancel();
            _watch = watch = CancellationTokenSource.CreateLinkedTokenSource(CallToken);
            Volatile.Write(ref _sessionId, sessionId);
        }

        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = ForwardSessionEventsAsync(sessionId, subscribed, watch.Token);
        return subscribed.Task.WaitAsync(TimeSpan.FromSeconds(2)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private Task ForwardSessionEventsAsync(string sessionId, TaskCompletionSource subscribed, CancellationToken cancellationToken) =>
        SessionUpdates.ForwardAsync(_llm, sessionId, _principal, StreamId, _ownReplies,
            // Ephemeral: a stream too far behind to take it loses the update, not the connection.
            update => _outgoing.Writer.TryWrite(new ChatResponse
            {
                Type = ChatResponse.Types.ResponseType.SessionUpdate,
                SessionId = sessionId,
                UpdateType = update.Type,
                MessageCount = update.MessageCount,
                UpdateData = UpdateData(update),
                Timestamp = OriginalFormat.CurrentSecondTimestamp(),
            }),
            status => Log.WatchInterrupted(_logger, sessionId, status),
            subscribed,
            cancellationToken);

    private static string UpdateData(SessionEvent update) => update.Type == "user_typing"
        ? JsonSerializer.Serialize(new { connection_id = update.ConnectionId, typing = update.Typing })
        : JsonSerializer.Serialize(new { message_count = update.MessageCount, last_message_preview = update.LastMessagePreview });

    private static ChatResponse Error(string message, StatusCode code, string? sessionId, string? replyId = null) => new()
    {
        Type = ChatResponse.Types.ResponseType.Error,
        SessionId = sessionId ?? "",
        ErrorMessage = message,
        ErrorCode = JsonNamingPolicy.SnakeCaseUpper.ConvertName(code.ToString()),
        ReplyId = replyId ?? "",
    };

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Debug, "Chat stream {StreamId} lost: {Reason}")]
        public static partial void StreamLost(ILogger logger, string streamId, string reason);

        [LoggerMessage(LogLevel.Warning, "A reply on chat stream {StreamId} failed with {StatusCode}; ending the call")]
        public static partial void TurnFailed(ILogger logger, string streamId, StatusCode statusCode);

        [LoggerMessage(LogLevel.Warning, "Publishing a session event on {SessionId} failed with {StatusCode}")]
        public static partial void PublishFailed(ILogger logger, string sessionId, StatusCode statusCode);

        [LoggerMessage(LogLevel.Warning, "Watching session {SessionId} was interrupted ({StatusCode}); subscribing again")]
        public static partial void WatchInterrupted(ILogger logger, string sessionId, StatusCode statusCode);
    }
}
