using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Sessions;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Streaming;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Chat.WebSocket.Sockets;

/// <summary>
/// One client connection speaking the original project's JSON protocol. Reads run on one loop (messages are handled
/// in order; replies stream in the background so pings, typing and cancel still get through), writes go through a
/// bounded queue drained by one writer loop (a socket allows one sender at a time, and a client that stops reading
/// must not make the server buffer without bound): replies wait for room (a model faster than the client is paced by
/// it), other messages overflowing the queue close the connection (1008), and a send pending for
/// <c>Transport:StreamWriteTimeout</c> aborts it. Session state lives in Chat.Llm.Service; this only remembers which
/// session the connection has joined, to route typing indicators and message updates.
/// </summary>
public sealed partial class ChatConnection
{
    private const string GeneratingStatus = "Generating response...";
    private const string Protocol = "websocket";

    private readonly System.Net.WebSockets.WebSocket _socket;
    private readonly LlmService.LlmServiceClient _llm;
    private readonly ServerInfoProvider _serverInfo;
    private readonly WebSocketChatOptions _options;
    private readonly WebSocketTelemetry _telemetry;
    private readonly TransportTelemetry _transportTelemetry;
    private readonly StreamWriteWatchdog _writeWatchdog;
    private readonly ILogger _logger;
    private readonly string _principal;
    private readonly string _origin;
    private readonly Channel<OutgoingFrame> _outgoing;
    private readonly SemaphoreSlim _replyCredits;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Lock _gate = new();

    private CloseRequest? _closeRequest;
    private string? _sessionId;
    private CancellationTokenSource? _watch;
    private string? _currentReplyId;
    private CancellationTokenSource? _abortAfterClose;
    private readonly OwnReplyFilter _ownReplies = new();

    public ChatConnection(
        System.Net.WebSockets.WebSocket socket,
        LlmService.LlmServiceClient llm,
        ServerInfoProvider serverInfo,
        WebSocketChatOptions options,
        WebSocketTelemetry telemetry,
        TransportTelemetry transportTelemetry,
        TransportOptions transportOptions,
        ILoggerFactory loggerFactory,
        string principal,
        string origin)
    {
        _socket = socket;
        _llm = llm;
        _serverInfo = serverInfo;
        _options = options;
        _telemetry = telemetry;
        _transportTelemetry = transportTelemetry;
        _logger = loggerFactory.CreateLogger<ChatConnection>();
        // A send the client does not take (its receive buffer full) aborts the socket; the queue bound alone would
        // leave the writer stuck in that send until Kestrel's MinResponseDataRate noticed.
        _writeWatchdog = new StreamWriteWatchdog(
            transportOptions.StreamWriteTimeout, Protocol, socket.Abort, transportTelemetry, loggerFactory.CreateLogger<StreamWriteWatchdog>());
        _principal = principal;
        _origin = origin;
        _outgoing = Channel.CreateBounded<OutgoingFrame>(new BoundedChannelOptions(options.OutgoingQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var replyCredits = Math.Max(1, options.OutgoingQueueCapacity * 3 / 4);
        _replyCredits = new SemaphoreSlim(replyCredits, replyCredits);
    }

    public string ConnectionId { get; } = Guid.NewGuid().ToString();

    public string? SessionId => Volatile.Read(ref _sessionId);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var writer = RunWriterAsync();
        try
        {
            var serverInfo = await _serverInfo.GetAsync(cancellationToken);
            Send(new ConnectedMessage(ConnectionId, "Connected to GenAI WebSocket server", serverInfo));
            await ReceiveLoopAsync();
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
        {
            Log.ConnectionLost(_logger, ConnectionId, exception.Message);
        }
        finally
        {
            // Replies keep running in Chat.Llm.Service (detached) so the client can resume them after reconnecting.
            await _lifetime.CancelAsync();
            RequestClose(WebSocketCloseStatus.NormalClosure, "");
            await writer;
            _abortAfterClose?.Dispose();
            _writeWatchdog.Dispose();
        }
    }

    /// <summary>Closes the connection with the given code once the frame in flight is out; later messages are dropped.</summary>
    public void RequestClose(WebSocketCloseStatus status, string description)
    {
        lock (_gate)
        {
            if (_closeRequest is not null)
            {
                return;
            }

            _closeRequest = new CloseRequest(status, description);
            // A peer that never answers the close (or never reads again) cannot hold the connection open.
            _abortAfterClose = new CancellationTokenSource(TimeSpan.FromSeconds(_options.CloseTimeoutSeconds));
            _abortAfterClose.Token.Register(_socket.Abort);
        }

        _outgoing.Writer.TryComplete();
    }

    private bool Closing => Volatile.Read(ref _closeRequest) is not null;

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[8 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            // Never cancelled: cancelling a receive aborts the socket, and the close handshake still needs it.
            var result = await _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                RequestClose(_socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, "");
                return;
            }

            if (Closing)
            {
                continue; // draining until the peer answers our close
            }

            if (result.MessageType == WebSocketMessageType.Binary)
            {
                Log.ProtocolViolation(_logger, ConnectionId, "binary frame");
                RequestClose(WebSocketCloseStatus.InvalidMessageType, "Binary messages are not supported");
                continue;
            }

            if (message.Length + result.Count > _options.MaxMessageBytes)
            {
                Log.ProtocolViolation(_logger, ConnectionId, "message too big");
                RequestClose(WebSocketCloseStatus.MessageTooBig, $"Messages are limited to {_options.MaxMessageBytes} bytes");
                continue;
            }

            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage)
            {
                continue;
            }

            await HandleMessageAsync(message.GetBuffer().AsMemory(0, (int)message.Length));
            message.SetLength(0);
        }
    }

    private async Task RunWriterAsync()
    {
        try
        {
            while (await _outgoing.Reader.WaitToReadAsync())
            {
                while (!Closing && _outgoing.Reader.TryRead(out var frame))
                {
                    _writeWatchdog.WriteStarted();
                    try
                    {
                        await _socket.SendAsync(frame.Buffer.AsMemory(0, frame.Length), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                    }
                    finally
                    {
                        _writeWatchdog.WriteEnded();
                        frame.Release();
                        if (frame.IsReply)
                        {
                            _replyCredits.Release();
                        }
                    }
                }

                if (Closing)
                {
                    break;
                }
            }

            var close = Volatile.Read(ref _closeRequest)!;
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(close.Status, close.Description, CancellationToken.None);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            Log.ConnectionLost(_logger, ConnectionId, exception.Message);
        }
    }

    /// <summary>Queues a message for the writer; a full queue means the client stopped reading: it is disconnected.</summary>
    private void Send(ServerMessage message)
    {
        if (Closing)
        {
            return;
        }

        var json = message.ToUtf8Json();
        Enqueue(new OutgoingFrame(json, json.Length, Pooled: false));
    }

    /// <summary>
    /// A message of a reply: waits for room in the queue instead of overflowing it, so a model faster than the client
    /// is paced by the client (a client that stops reading altogether is dropped by the write watchdog).
    /// </summary>
    private Task SendReplyAsync(ServerMessage message)
    {
        if (Closing)
        {
            return Task.CompletedTask;
        }

        var json = message.ToUtf8Json();
        return EnqueueReplyAsync(new OutgoingFrame(json, json.Length, Pooled: false) { IsReply = true });
    }

    /// <summary>
    /// A model delta, the per-token path: written by <see cref="ChunkFrame"/> into a pooled buffer (returned once sent)
    /// instead of a record serialized into a new array, so a token costs no allocation here.
    /// </summary>
    private Task SendChunkAsync(string text, int chunkNumber, string sessionId, string? replyId, long emittedAtTicks)
    {
        if (Closing)
        {
            return Task.CompletedTask;
        }

        return EnqueueReplyAsync(ChunkFrame.Rent(text, chunkNumber, sessionId, replyId, emittedAtTicks) with { IsReply = true });
    }

    /// <summary>
    /// Replies may fill three quarters of the queue (one credit per frame, returned once sent) and then wait; the rest
    /// stays for pongs, errors and session updates, whose overflow still means the client stopped reading.
    /// </summary>
    private async Task EnqueueReplyAsync(OutgoingFrame frame)
    {
        try
        {
            await _replyCredits.WaitAsync(_lifetime.Token);
        }
        catch (OperationCanceledException)
        {
            frame.Release();
            return;
        }

        Enqueue(frame);
    }

    private void Enqueue(OutgoingFrame frame)
    {
        if (!_outgoing.Writer.TryWrite(frame) && !Closing)
        {
            frame.Release();
            _telemetry.SlowReaderDisconnected();
            _transportTelemetry.StreamDropped(Protocol, "queue_full");
            Log.SlowReader(_logger, ConnectionId, _options.OutgoingQueueCapacity);
            RequestClose(WebSocketCloseStatus.PolicyViolation, "Client is not reading fast enough");
        }
    }

    private async Task HandleMessageAsync(ReadOnlyMemory<byte> utf8)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8);
        }
        catch (JsonException)
        {
            Send(new ErrorMessage("Invalid JSON format") { Code = "INVALID_ARGUMENT" });
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                Send(new ErrorMessage("Invalid JSON format") { Code = "INVALID_ARGUMENT" });
                return;
            }

            var type = StringField(root, "type");
            _telemetry.MessageReceived(type ?? "");
            switch (type)
            {
                case "ping":
                    Send(new PongMessage(ConnectionId));
                    break;
                case "create_session":
                    await CreateSessionAsync(StringField(root, "model_id"));
                    break;
                case "join_session":
                    await JoinSessionAsync(StringField(root, "session_id"));
                    break;
                case "chat":
                    StartChat(StringField(root, "session_id") ?? SessionId, StringField(root, "message"));
                    break;
                case "typing_start" or "typing_stop":
                    await PublishTypingAsync(StringField(root, "session_id") ?? SessionId, type == "typing_start");
                    break;
                case "cancel":
                    await CancelAsync(StringField(root, "reply_id") ?? Volatile.Read(ref _currentReplyId));
                    break;
                case "resume":
                    StartResume(StringField(root, "reply_id"), IntField(root, "last_chunk_number"));
                    break;
                default:
                    var shown = type is null ? "None" : type.Length > 64 ? type[..64] + "…" : type;
                    Send(new ErrorMessage($"Unknown message type: {shown}") { Code = "INVALID_ARGUMENT" });
                    break;
            }
        }
    }

    private async Task CreateSessionAsync(string? modelId)
    {
        try
        {
            var session = await _llm.CreateSessionAsync(
                new CreateSessionRequest { ModelId = modelId ?? "", Principal = _principal }, cancellationToken: _lifetime.Token);
            await WatchSessionAsync(session.Id);
            Send(new SessionCreatedMessage(session.Id, session.Model, ConnectionId));
        }
        catch (RpcException exception) when (!_lifetime.IsCancellationRequested)
        {
            Send(ToError(exception, null, null));
        }
    }

    private async Task JoinSessionAsync(string? sessionId)
    {
        if (string.IsNullOrWhiteSpace(sessionId))
        {
            Send(new ErrorMessage("session_id is required") { Code = "INVALID_ARGUMENT" });
            return;
        }

        try
        {
            var session = await _llm.GetSessionAsync(
                new GetSessionRequest { SessionId = sessionId, Principal = _principal }, cancellationToken: _lifetime.Token);
            await WatchSessionAsync(session.Id);
            Send(new SessionJoinedMessage(session.Id, session.Model, session.MessageCount, ConnectionId));
        }
        catch (RpcException exception) when (!_lifetime.IsCancellationRequested)
        {
            // A malformed id is as unknown as a missing one to the original's clients.
            Send(exception.StatusCode == StatusCode.InvalidArgument
                ? new ErrorMessage("Session not found") { Code = "INVALID_ARGUMENT", SessionId = sessionId }
                : ToError(exception, sessionId, null));
        }
    }

    private void StartChat(string? sessionId, string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            Send(new ErrorMessage("Message is required") { Code = "INVALID_ARGUMENT", SessionId = sessionId });
            return;
        }

        var request = new TurnRequest
        {
            SessionId = sessionId ?? "",
            Message = text,
            CreateIfMissing = true,
            // The reply outlives this connection (buffered in Redis) so a client that drops can resume it.
            Detach = true,
            Principal = _principal,
        };
        _ = RelayAsync(() => _llm.StreamTurn(request, cancellationToken: _lifetime.Token), sessionId, afterChunk: 0, resumed: false);
    }

    private void StartResume(string? replyId, int lastChunkNumber)
    {
        if (string.IsNullOrWhiteSpace(replyId))
        {
            Send(new ErrorMessage("reply_id is required") { Code = "INVALID_ARGUMENT" });
            return;
        }

        // The whole buffer is replayed from the start (so the reply's session is known) and chunks the client has
        // are skipped here: chunk numbers and event sequences are kept apart on purpose.
        var request = new ResumeTurnRequest { TurnId = replyId, AfterSequence = 0, Principal = _principal };
        _ = RelayAsync(() => _llm.ResumeTurn(request, cancellationToken: _lifetime.Token), null, lastChunkNumber, resumed: true, replyId);
    }

    private async Task CancelAsync(string? replyId)
    {
        if (string.IsNullOrEmpty(replyId))
        {
            Send(new ErrorMessage("No reply in progress") { Code = "FAILED_PRECONDITION" });
            return;
        }

        try
        {
            var response = await _llm.CancelTurnAsync(
                new CancelTurnRequest { TurnId = replyId, Principal = _principal }, cancellationToken: _lifetime.Token);
            if (!response.Cancelled)
            {
                Send(new ErrorMessage("No reply in progress") { Code = "FAILED_PRECONDITION", ReplyId = replyId });
            }
        }
        catch (RpcException exception) when (!_lifetime.IsCancellationRequested)
        {
            Send(ToError(exception, SessionId, replyId));
        }
    }

    /// <summary>Streams one reply (a new turn or a resumed one) to the client as status/response_start/chunk/response_complete.</summary>
    private async Task RelayAsync(
        Func<AsyncServerStreamingCall<TurnEvent>> start, string? sessionId, int afterChunk, bool resumed, string? replyId = null)
    {
        var cancellationToken = _lifetime.Token;
        var chunks = 0;
        int? expectedUpdate = null;
        if (!resumed)
        {
            _ownReplies.TurnRequested();
        }

        try
        {
            using var call = start();
            await foreach (var turnEvent in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                replyId = turnEvent.TurnId;
                switch (turnEvent.KindCase)
                {
                    case TurnEvent.KindOneofCase.Accepted:
                        var accepted = turnEvent.Accepted;
                        sessionId = accepted.SessionId;
                        Volatile.Write(ref _currentReplyId, replyId);
                        if (accepted.SessionCreated && !resumed)
                        {
                            await SendReplyAsync(new SessionCreatedMessage(sessionId, accepted.Model, ConnectionId));
                        }

                        if (SessionId != sessionId)
                        {
                            _ = WatchSessionAsync(sessionId);
                        }

                        if (!resumed)
                        {
                            expectedUpdate = _ownReplies.TurnAccepted(accepted.MessageCount);
                            await SendReplyAsync(new StatusMessage(GeneratingStatus, sessionId, accepted.ContextMessages, replyId));
                        }

                        await SendReplyAsync(new ResponseStartMessage(sessionId, 0, replyId) { Resumed = resumed ? true : null });
                        break;
                    case TurnEvent.KindOneofCase.Delta:
                        chunks = turnEvent.Delta.Index;
                        if (turnEvent.Delta.Index > afterChunk)
                        {
                            await SendChunkAsync(turnEvent.Delta.Text, turnEvent.Delta.Index, sessionId ?? "", replyId, turnEvent.Delta.EmittedAtTicks);
                        }

                        break;
                    case TurnEvent.KindOneofCase.Completed:
                        var completed = turnEvent.Completed;
                        await SendReplyAsync(new ResponseCompleteMessage(
                            completed.TotalChunks,
                            Math.Round(completed.TotalSeconds, 3),
                            completed.MessageCount,
                            sessionId ?? "",
                            completed.FullText,
                            replyId,
                            completed.FinishReason,
                            Math.Round(completed.TimeToFirstTokenSeconds, 3),
                            completed.Usage?.InputTokens ?? 0,
                            completed.Usage?.OutputTokens ?? 0));
                        break;
                    case TurnEvent.KindOneofCase.Error:
                        if (expectedUpdate is { } expected)
                        {
                            _ownReplies.NoReply(expected);
                        }

                        await SendReplyAsync(turnEvent.Error.Code == "CANCELLED"
                            ? new ResponseCancelledMessage(sessionId ?? "", replyId, chunks)
                            : new ErrorMessage(turnEvent.Error.Message)
                            {
                                Code = turnEvent.Error.Code,
                                SessionId = sessionId,
                                ReplyId = replyId,
                                Retryable = turnEvent.Error.Retryable,
                            });
                        break;
                }
            }
        }
        catch (Exception exception) when (cancellationToken.IsCancellationRequested
            && exception is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            // The connection went away; the reply goes on in Chat.Llm.Service for a resume.
        }
        catch (RpcException exception)
        {
            await SendReplyAsync(resumed && exception.StatusCode == StatusCode.NotFound
                ? new ErrorMessage("Reply not found or expired") { Code = "NOT_FOUND", ReplyId = replyId }
                : ToError(exception, sessionId, replyId));
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

    private async Task PublishTypingAsync(string? sessionId, bool typing)
    {
        if (string.IsNullOrEmpty(sessionId))
        {
            return; // as the original: typing outside a session goes nowhere
        }

        await PublishAsync(new SessionEvent { SessionId = sessionId, Type = "user_typing", Typing = typing });
    }

    private async Task PublishAsync(SessionEvent sessionEvent)
    {
        sessionEvent.ConnectionId = ConnectionId;
        sessionEvent.Origin = _origin;
        sessionEvent.Principal = _principal;
        sessionEvent.At = Timestamp.FromDateTime(DateTime.UtcNow);
        try
        {
            await _llm.PublishSessionEventAsync(sessionEvent, cancellationToken: _lifetime.Token);
        }
        catch (RpcException exception) when (!_lifetime.IsCancellationRequested)
        {
            // Fan-out is best effort: a lost typing indicator must not fail the connection.
            Log.PublishFailed(_logger, sessionEvent.SessionId, exception.StatusCode);
        }
    }

    /// <summary>
    /// Makes this connection the session's listener for typing and message updates from every replica. Returns once
    /// the subscription is established (bounded), so a client told "joined" does not miss the next update.
    /// </summary>
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
            _watch = watch = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
            Volatile.Write(ref _sessionId, sessionId);
        }

        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = ForwardSessionEventsAsync(sessionId, subscribed, watch.Token);
        return subscribed.Task.WaitAsync(TimeSpan.FromSeconds(2)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private Task ForwardSessionEventsAsync(string sessionId, TaskCompletionSource subscribed, CancellationToken cancellationToken) =>
        SessionUpdates.ForwardAsync(_llm, sessionId, _principal, ConnectionId, _ownReplies,
            update => Send(update.Type switch
            {
                "user_typing" => new SessionUpdateMessage(sessionId, update.Type)
                {
                    ConnectionId = update.ConnectionId,
                    Typing = update.Typing,
                },
                _ => new SessionUpdateMessage(sessionId, update.Type)
                {
                    MessageCount = update.MessageCount,
                    LastMessagePreview = update.LastMessagePreview,
                },
            }),
            status => Log.WatchInterrupted(_logger, sessionId, status),
            subscribed,
            cancellationToken);

    private static ErrorMessage ToError(RpcException exception, string? sessionId, string? replyId) => new(exception.StatusCode switch
    {
        StatusCode.NotFound => "Session not found",
        StatusCode.InvalidArgument or StatusCode.Aborted or StatusCode.ResourceExhausted or StatusCode.FailedPrecondition
            => exception.Status.Detail,
        StatusCode.Unavailable => "The chat service is temporarily unavailable",
        StatusCode.DeadlineExceeded => "The model did not answer in time",
        _ => "Internal server error",
    })
    {
        Code = StatusName(exception.StatusCode),
        SessionId = sessionId,
        ReplyId = replyId,
        Retryable = exception.StatusCode is StatusCode.Unavailable or StatusCode.ResourceExhausted or StatusCode.DeadlineExceeded
            or StatusCode.Aborted,
    };

    /// <summary>The canonical gRPC name (INVALID_ARGUMENT), as chat.llm.v1 error events spell it.</summary>
    public static string StatusName(StatusCode code) =>
        JsonNamingPolicy.SnakeCaseUpper.ConvertName(code.ToString());

    private static string? StringField(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : null;

    private static int IntField(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number)
            ? number
            : 0;

    private sealed record CloseRequest(WebSocketCloseStatus Status, string Description);

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Debug, "Connection {ConnectionId} lost: {Reason}")]
        public static partial void ConnectionLost(ILogger logger, string connectionId, string reason);

        [LoggerMessage(LogLevel.Information, "Connection {ConnectionId} closed for a protocol violation: {Violation}")]
        public static partial void ProtocolViolation(ILogger logger, string connectionId, string violation);

        [LoggerMessage(LogLevel.Warning, "Connection {ConnectionId} closed: its outgoing queue of {Capacity} frames overflowed (slow reader)")]
        public static partial void SlowReader(ILogger logger, string connectionId, int capacity);

        [LoggerMessage(LogLevel.Warning, "Publishing a session event on {SessionId} failed with {StatusCode}")]
        public static partial void PublishFailed(ILogger logger, string sessionId, StatusCode statusCode);

        [LoggerMessage(LogLevel.Warning, "Watching session {SessionId} was interrupted ({StatusCode}); subscribing again")]
        public static partial void WatchInterrupted(ILogger logger, string sessionId, StatusCode statusCode);
    }
}
