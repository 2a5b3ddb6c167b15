using System.Runtime.CompilerServices;
using System.Text.Json;
using Chat.Contracts.Formats;
using Chat.Contracts.Public;
using Chat.Conversation.Engine;
using Chat.Transports.Shared.Streaming;
using Grpc.Core;

namespace Chat.Grpc.Services;

/// <summary>
/// One call of chat.ChatService as the framing of a <see cref="ConversationEngine{TFrame}"/>: the bidirectional Chat,
/// or one of its server-streaming halves for gRPC-Web (SendMessage: one request; WatchSession: updates only). It maps
/// ChatRequests to commands and the conversation's events to ChatResponses (CHUNKs from a pool), writes them to the
/// call, and ends the call: OK once the client has finished sending and the replies in flight are out, or with the
/// status the conversation ended on.
/// </summary>
internal sealed partial class ChatStream : IConversationFraming<ChatResponse>
{
    private const string WatchingStatus = "Watching session";
    private const string SessionNotFound = "Session not found";

    private static readonly WriteOptions BufferedWrite = new(WriteFlags.BufferHint);
    private readonly IServerStreamWriter<ChatResponse> _responses;
    private readonly ServerCallContext _context;
    private readonly ConversationEngine<ChatResponse> _conversation;
    private readonly ChunkResponsePool _chunks;
    private readonly ILogger _logger;
    private readonly bool _failOnUnknownSession;

    /// <param name="detach">Replies survive the call (<c>chat-resumable: true</c>).</param>
    /// <param name="followReplySession">A reply attaches the call to its session's updates (Chat, not SendMessage).</param>
    /// <param name="failOnUnknownSession">An unknown session ends the call with NOT_FOUND instead of an ERROR response (strict SendMessage).</param>
    public ChatStream(
        IServerStreamWriter<ChatResponse> responses,
        ServerCallContext context,
        ConversationServices conversations,
        GrpcChatOptions options,
        ILogger logger,
        string principal,
        bool detach,
        bool followReplySession,
        bool failOnUnknownSession)
    {
        _responses = responses;
        _context = context;
        _logger = logger;
        _failOnUnknownSession = failOnUnknownSession;
        _chunks = new ChunkResponsePool(options.OutgoingQueueCapacity + 1);
        _conversation = conversations.Create(this, new ConversationSettings
        {
            QueueCapacity = options.OutgoingQueueCapacity,
            // HTTP/2 flow control paces the client's requests; updates to a stream too far behind are dropped.
            SlowReader = SlowReaderPolicy.Backpressure,
            // By default the caller's cancellation and deadline stop the model call (propagated by the client
            // factory); a stream opened with chat-resumable: true lets replies run on for a RESUME after a drop.
            Detach = detach,
            // The original: a MESSAGE names its session (or the stream's), and an unknown one ends the stream.
            NewSessionWhenNone = false,
            GetOrCreate = false,
            FollowReplySession = followReplySession,
            EndOnUnknownSession = true,
            EndOnServiceFailure = true,
        }, principal, context.CancellationToken);
    }

    public string StreamId => _conversation.ConnectionId;

    public string Protocol => "grpc";

    private CancellationToken CallToken => _context.CancellationToken;

    /// <summary>The bidi Chat: every request the client sends, in order.</summary>
    public Task RunAsync(IAsyncStreamReader<ChatRequest> requests) => RunAsync(async () =>
    {
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(CallToken, _conversation.Ended);
        try
        {
            await foreach (var request in requests.ReadAllAsync(reading.Token))
            {
                await HandleAsync(request);
            }
        }
        catch (OperationCanceledException) when (_conversation.Ended.IsCancellationRequested && !CallToken.IsCancellationRequested)
        {
            // Ended by the conversation ("Session not found", as the original), not by the client.
        }
    });

    /// <summary>SendMessage: one request (a MESSAGE), its reply, then the end of the call.</summary>
    public Task RunOneAsync(ChatRequest request) => RunAsync(() => HandleAsync(request));

    /// <summary>WatchSession: the session's updates until the caller goes away.</summary>
    public Task RunWatchAsync(string sessionId) => RunAsync(async () =>
    {
        // A first message once subscribed: the caller knows from here on no update is missed, and every proxy on
        // the way (gRPC-Web over HTTP/1.1 through YARP) has flushed the response.
        await _conversation.HandleAsync(new WatchCommand(sessionId));
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
        _conversation.Start();
        try
        {
            await readRequests();

            // The client finished sending (the original client sends one request, then reads to RESPONSE_COMPLETE):
            // let the replies in flight finish, then end the call.
            await _conversation.WhenRepliesEndedAsync();
        }
        finally
        {
            await _conversation.StopAsync(drain: true);
        }

        if (_conversation.TerminalStatus is { } status)
        {
            throw new RpcException(status);
        }

        if (_failOnUnknownSession && _conversation.EndedForUnknownSession)
        {
            throw new RpcException(new Status(StatusCode.NotFound, SessionNotFound));
        }
    }

    private Task HandleAsync(ChatRequest request)
    {
        var sessionId = request.SessionId.Length > 0 ? request.SessionId : null;
        var replyId = request.ReplyId.Length > 0 ? request.ReplyId : null;
        ConversationCommand? command = request.Type switch
        {
            ChatRequest.Types.MessageType.Ping => new PingCommand(sessionId),
            ChatRequest.Types.MessageType.Message => new ChatCommand(sessionId, request.Message),
            ChatRequest.Types.MessageType.TypingStart => new TypingCommand(sessionId, Typing: true),
            ChatRequest.Types.MessageType.TypingStop => new TypingCommand(sessionId, Typing: false),
            ChatRequest.Types.MessageType.Cancel => new CancelCommand(sessionId, replyId),
            ChatRequest.Types.MessageType.Resume => new ResumeCommand(sessionId, replyId, ResumeFrom(request)),
            _ => null,
        };

        return command is null
            ? _conversation.SendAsync(new RejectedEvent($"Unknown message type: {request.Type}", StatusCode.InvalidArgument, sessionId)).AsTask()
            : _conversation.HandleAsync(command);
    }

    /// <summary><c>last_position</c> (+ <c>epoch</c>) as every transport names it, or the first form's <c>last_chunk_number</c>.</summary>
    private static ResumePoint ResumeFrom(ChatRequest request) =>
        request.HasLastPosition || request.Epoch.Length > 0
            ? new ResumePoint(Math.Max(0, request.LastPosition), request.Epoch.Length > 0 ? request.Epoch : null)
            : ResumePoint.FromLastChunk(request.LastChunkNumber);

    public bool TryEncode(ConversationEvent conversationEvent, out ChatResponse frame)
    {
        ChatResponse? response = conversationEvent switch
        {
            PongEvent pong => new() { Type = ChatResponse.Types.ResponseType.Pong, SessionId = pong.SessionId ?? "", StatusMessage = "pong" },
            WatchingEvent watching => new() { Type = ChatResponse.Types.ResponseType.Status, SessionId = watching.SessionId, StatusMessage = WatchingStatus },
            SessionUpdateEvent { Update: var update } updated => new()
            {
                Type = ChatResponse.Types.ResponseType.SessionUpdate,
                SessionId = updated.SessionId,
                UpdateType = update.Type,
                MessageCount = update.MessageCount,
                UpdateData = update.Type == "user_typing"
                    ? JsonSerializer.Serialize(new { connection_id = update.ConnectionId, typing = update.Typing })
                    : JsonSerializer.Serialize(new { message_count = update.MessageCount, last_message_preview = update.LastMessagePreview }),
            },
            ReplyAcceptedEvent accepted => new()
            {
                Type = ChatResponse.Types.ResponseType.Status,
                SessionId = accepted.SessionId,
                StatusMessage = OriginalEvents.GeneratingResponse,
                // The original counted the new user message (it was added to the history first).
                ContextMessages = accepted.ContextMessages + 1,
                ReplyId = accepted.ReplyId,
                Position = accepted.Position,
            },
            ReplyStartedEvent started => Started(started),
            ReplyCompletedEvent { Completed: var completed } done => new()
            {
                Type = ChatResponse.Types.ResponseType.ResponseComplete,
                SessionId = done.SessionId,
                TotalChunks = completed.TotalChunks,
                ProcessingTime = Math.Round(completed.TotalSeconds, 3),
                MessageCount = completed.MessageCount,
                IsFinal = true,
                ReplyId = done.ReplyId,
                FinishReason = completed.FinishReason,
                InputTokens = completed.Usage?.InputTokens ?? 0,
                OutputTokens = completed.Usage?.OutputTokens ?? 0,
                TimeToFirstToken = Math.Round(completed.TimeToFirstTokenSeconds, 3),
                FullResponse = completed.FullText,
                Position = done.Position,
            },
            ReplyCancelledEvent cancelled => Error("Response cancelled", "CANCELLED", cancelled.SessionId, cancelled.ReplyId, cancelled.Chunks, cancelled.Position),
            ReplyFailedEvent failed => Error(failed.Error.Message, failed.Error.Code, failed.SessionId, failed.ReplyId, failed.Chunks, failed.Position),
            // Strict SendMessage ends with NOT_FOUND instead (see RunAsync).
            SessionNotFoundEvent notFound when !_failOnUnknownSession => Error(SessionNotFound, StatusCode.NotFound, notFound.SessionId),
            ReplyExpiredEvent expired => Expired(expired.ReplyId),
            FailureEvent failure => Error(failure.Detail, failure.Code, failure.SessionId, failure.ReplyId),
            RejectedEvent rejected => Error(rejected.Message, rejected.Code, rejected.SessionId, rejected.ReplyId),
            _ => null,
        };

        frame = response!;
        if (response is null)
        {
            return false;
        }

        response.Timestamp = OriginalFormat.CurrentSecondTimestamp();
        return true;
    }

    /// <summary>A CHUNK from the pool: a token costs no new message.</summary>
    public ChatResponse EncodeChunk(in ReplyChunk chunk)
    {
        var response = _chunks.Rent(chunk.SessionId, chunk.Text, chunk.ChunkNumber, chunk.ReplyId, chunk.EmittedAtTicks, chunk.Position);
        // Whole seconds, one shared string per second: a timestamp on every token without an allocation per token.
        response.Timestamp = OriginalFormat.CurrentSecondTimestamp();
        return response;
    }

    // Pooled: a write that completes later must not cost a state machine per token.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WriteAsync(ChatResponse frame, bool flush)
    {
        try
        {
            // Unflushed while another message follows at once: both leave in one HTTP/2 write.
            _responses.WriteOptions = flush ? null : BufferedWrite;
            await _responses.WriteAsync(frame, CallToken);
            return true;
        }
        catch (Exception exception) when (exception is OperationCanceledException or InvalidOperationException or IOException)
        {
            Log.StreamLost(_logger, StreamId, exception.Message);
            return false;
        }
    }

    /// <summary>Grpc.AspNetCore has serialized a message once its write completed: a CHUNK can be filled again.</summary>
    public void Release(ChatResponse frame) => _chunks.Return(frame);

    public ValueTask FinishAsync() => ValueTask.CompletedTask;

    /// <summary>A write the client does not take ends the call (the HTTP/2 stream is reset).</summary>
    public void Abort() => _context.GetHttpContext().Abort();

    /// <summary>Not reached under back-pressure (answers wait, updates are dropped); a full queue would end the call.</summary>
    public void QueueOverflowed() => Abort();

    private static ChatResponse Started(ReplyStartedEvent started)
    {
        var response = new ChatResponse
        {
            Type = ChatResponse.Types.ResponseType.ResponseStart,
            SessionId = started.SessionId,
            StatusMessage = started.Resume is null ? "" : "Resuming response...",
            ReplyId = started.ReplyId,
            Epoch = started.Epoch,
        };
        if (started.Resume is { } resume)
        {
            response.Recovered = resume.Recovered;
            response.ResumeReason = resume.Reason ?? "";
        }

        return response;
    }

    /// <summary>A RESUME of a reply whose buffer is gone: nothing can follow, and the response says why.</summary>
    private static ChatResponse Expired(string replyId)
    {
        var response = Error("Reply not found or expired", StatusCode.NotFound, null, replyId);
        response.Recovered = false;
        response.ResumeReason = ResumeReasons.Expired;
        return response;
    }

    private static ChatResponse Error(string message, StatusCode code, string? sessionId, string? replyId = null) =>
        Error(message, JsonNamingPolicy.SnakeCaseUpper.ConvertName(code.ToString()), sessionId, replyId, 0, 0);

    private static ChatResponse Error(string message, string code, string? sessionId, string? replyId, int totalChunks, long position) => new()
    {
        Type = ChatResponse.Types.ResponseType.Error,
        SessionId = sessionId ?? "",
        ErrorMessage = message,
        ErrorCode = code,
        ReplyId = replyId ?? "",
        TotalChunks = totalChunks,
        Position = position,
    };

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Debug, "Chat stream {StreamId} lost: {Reason}")]
        public static partial void StreamLost(ILogger logger, string streamId, string reason);
    }
}
