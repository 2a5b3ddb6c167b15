using System.Runtime.CompilerServices;
using System.Net.WebSockets;
using System.Text.Json;
using Chat.Conversation.Engine;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Streaming;
using Grpc.Core;

namespace Chat.WebSocket.Sockets;

/// <summary>
/// One client connection speaking the original project's JSON protocol: the framing of a
/// <see cref="ConversationEngine{TFrame}"/>. It reads text frames (one loop; receives are never cancelled, because
/// cancelling a receive aborts the socket), turns each JSON message into a command, encodes the conversation's
/// events as JSON text frames, and owns the close codes: 1003 for a binary frame, 1009 for a message over the limit,
/// 1008 for a client that stopped reading, 1001 when the host stops. Every close goes through the engine's writer:
/// first the frame in flight, then the close frame; a peer that does not answer is aborted after a timeout.
/// </summary>
public sealed partial class ChatConnection : IConversationFraming<OutgoingFrame>
{

    private readonly System.Net.WebSockets.WebSocket _socket;
    private readonly ServerInfoProvider _serverInfo;
    private readonly WebSocketChatOptions _options;
    private readonly WebSocketTelemetry _telemetry;
    private readonly ILogger _logger;
    private readonly ConversationEngine<OutgoingFrame> _conversation;
    private readonly Lock _gate = new();

    private CloseRequest? _closeRequest;
    private CancellationTokenSource? _abortAfterClose;
    private ServerInfo? _info;

    /// <param name="strictSessions">The upgrade request asked for strict sessions (<see cref="StrictSession"/>).</param>
    public ChatConnection(
        System.Net.WebSockets.WebSocket socket,
        ConversationServices conversations,
        ServerInfoProvider serverInfo,
        WebSocketChatOptions options,
        WebSocketTelemetry telemetry,
        ILoggerFactory loggerFactory,
        string principal,
        bool strictSessions)
    {
        _socket = socket;
        _serverInfo = serverInfo;
        _options = options;
        _telemetry = telemetry;
        _logger = loggerFactory.CreateLogger<ChatConnection>();
        _conversation = conversations.Create(this, new ConversationSettings
        {
            QueueCapacity = options.OutgoingQueueCapacity,
            SlowReader = SlowReaderPolicy.Disconnect,
            // Replies outlive the connection (buffered in Redis) so a client that drops can resume them.
            Detach = true,
            NewSessionWhenNone = true,
            GetOrCreate = !strictSessions,
        }, principal, CancellationToken.None);
    }

    public string ConnectionId => _conversation.ConnectionId;

    public string? SessionId => _conversation.SessionId;

    public string Protocol => "websocket";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _conversation.Start();
        try
        {
            _info = await _serverInfo.GetAsync(cancellationToken);
            await _conversation.SendAsync(new ConnectedEvent(ConnectionId));
            await ReceiveLoopAsync();
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
        {
            Log.ConnectionLost(_logger, ConnectionId, exception.Message);
        }
        finally
        {
            // Replies keep running in Chat.Llm.Service (detached) so the client can resume them after reconnecting.
            RequestClose(WebSocketCloseStatus.NormalClosure, "");
            await _conversation.StopAsync(drain: false);
            _abortAfterClose?.Dispose();
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

        _conversation.Close();
    }

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

            if (_conversation.Closing)
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

    private async Task HandleMessageAsync(ReadOnlyMemory<byte> utf8)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8);
        }
        catch (JsonException)
        {
            await _conversation.SendAsync(new RejectedEvent("Invalid JSON format", StatusCode.InvalidArgument));
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                await _conversation.SendAsync(new RejectedEvent("Invalid JSON format", StatusCode.InvalidArgument));
                return;
            }

            var type = StringField(root, "type");
            _telemetry.MessageReceived(type ?? "");
            var sessionId = StringField(root, "session_id");
            ConversationCommand? command = type switch
            {
                "ping" => new PingCommand(sessionId),
                "create_session" => new CreateSessionCommand(StringField(root, "model_id")),
                "join_session" => new JoinSessionCommand(sessionId),
                "chat" => new ChatCommand(sessionId, StringField(root, "message")),
                "typing_start" or "typing_stop" => new TypingCommand(sessionId, type == "typing_start"),
                "cancel" => new CancelCommand(sessionId, StringField(root, "reply_id")),
                "resume" => new ResumeCommand(sessionId, StringField(root, "reply_id"), ResumeFrom(root)),
                _ => null,
            };

            if (command is null)
            {
                var shown = type is null ? "None" : type.Length > 64 ? type[..64] + "…" : type;
                await _conversation.SendAsync(new RejectedEvent($"Unknown message type: {shown}", StatusCode.InvalidArgument));
                return;
            }

            await _conversation.HandleAsync(command);
        }
    }

    /// <summary><c>last_position</c> (+ <c>epoch</c>) as every transport names it, or the first form's <c>last_chunk_number</c>.</summary>
    private static ResumePoint ResumeFrom(JsonElement root) =>
        root.TryGetProperty("last_position", out var position) && position.ValueKind == JsonValueKind.Number && position.TryGetInt64(out var value) && value >= 0
            ? new ResumePoint(value, StringField(root, "epoch"))
            : StringField(root, "epoch") is { } epoch
                ? new ResumePoint(0, epoch)
                : ResumePoint.FromLastChunk(IntField(root, "last_chunk_number"));

    public bool TryEncode(ConversationEvent conversationEvent, out OutgoingFrame frame)
    {
        ServerMessage? message = conversationEvent switch
        {
            ConnectedEvent connected => new ConnectedMessage(connected.ConnectionId, "Connected to GenAI WebSocket server",
                _info ?? new ServerInfo("unknown", ServerInfoProvider.Framework, ServerInfoProvider.Features)),
            PongEvent => new PongMessage(ConnectionId),
            SessionCreatedEvent created => new SessionCreatedMessage(created.SessionId, created.Model, ConnectionId),
            SessionJoinedEvent joined => new SessionJoinedMessage(joined.SessionId, joined.Model, joined.MessageCount, ConnectionId),
            SessionUpdateEvent { Update: var update } updated => update.Type == "user_typing"
                ? new SessionUpdateMessage(updated.SessionId, update.Type) { ConnectionId = update.ConnectionId, Typing = update.Typing }
                : new SessionUpdateMessage(updated.SessionId, update.Type) { MessageCount = update.MessageCount, LastMessagePreview = update.LastMessagePreview },
            ReplyAcceptedEvent accepted => new StatusMessage(OriginalEvents.GeneratingResponse, accepted.SessionId, accepted.ContextMessages, accepted.ReplyId)
            {
                Position = accepted.Position,
            },
            ReplyStartedEvent started => new ResponseStartMessage(started.SessionId, 0, started.ReplyId)
            {
                Resumed = started.Resume is null ? null : true,
                Recovered = started.Resume?.Recovered,
                Reason = started.Resume?.Reason,
                Epoch = started.Epoch.Length > 0 ? started.Epoch : null,
            },
            ReplyCompletedEvent { Completed: var completed } done => new ResponseCompleteMessage(
                completed.TotalChunks,
                Math.Round(completed.TotalSeconds, 3),
                completed.MessageCount,
                done.SessionId,
                completed.FullText,
                done.ReplyId,
                completed.FinishReason,
                Math.Round(completed.TimeToFirstTokenSeconds, 3),
                completed.Usage?.InputTokens ?? 0,
                completed.Usage?.OutputTokens ?? 0) { Position = done.Position },
            ReplyCancelledEvent cancelled => new ResponseCancelledMessage(cancelled.SessionId, cancelled.ReplyId, cancelled.Chunks)
            {
                Position = cancelled.Position,
            },
            ReplyFailedEvent failed => new ErrorMessage(failed.Error.Message)
            {
                Code = failed.Error.Code,
                SessionId = failed.SessionId,
                ReplyId = failed.ReplyId,
                Retryable = failed.Error.Retryable,
                Position = failed.Position,
            },
            SessionNotFoundEvent notFound => new ErrorMessage("Session not found") { SessionId = notFound.SessionId, Code = StrictSession.NotFoundCode },
            ReplyExpiredEvent expired => new ErrorMessage("Reply not found or expired")
            {
                Code = "NOT_FOUND",
                ReplyId = expired.ReplyId,
                Recovered = false,
                Reason = ResumeReasons.Expired,
            },
            // A malformed id is as unknown as a missing one to the original's clients.
            FailureEvent { Kind: FailureKind.JoinSession, Code: StatusCode.InvalidArgument } failure
                => new ErrorMessage("Session not found") { Code = "INVALID_ARGUMENT", SessionId = failure.SessionId },
            FailureEvent failure => ToError(failure),
            RejectedEvent rejected => new ErrorMessage(rejected.Message)
            {
                Code = StatusName(rejected.Code),
                SessionId = rejected.SessionId,
                ReplyId = rejected.ReplyId,
            },
            _ => null,
        };

        if (message is null)
        {
            frame = default;
            return false;
        }

        var json = message.ToUtf8Json();
        frame = new OutgoingFrame(json, json.Length, Pooled: false);
        return true;
    }

    /// <summary>
    /// A model delta, the per-token path: written by <see cref="ChunkFrame"/> into a pooled buffer (returned once sent)
    /// instead of a record serialized into a new array, so a token costs no allocation here.
    /// </summary>
    public OutgoingFrame EncodeChunk(in ReplyChunk chunk) =>
        ChunkFrame.Rent(chunk.Text, chunk.ChunkNumber, chunk.SessionId, chunk.ReplyId, chunk.EmittedAtTicks, chunk.Position);

    // Pooled: a send that completes later must not cost a state machine per token.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WriteAsync(OutgoingFrame frame, bool flush)
    {
        // Every message is its own send: the socket has no unflushed write.
        try
        {
            await _socket.SendAsync(frame.Buffer.AsMemory(0, frame.Length), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            return true;
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            Log.ConnectionLost(_logger, ConnectionId, exception.Message);
            return false;
        }
    }

    public void Release(OutgoingFrame frame) => frame.Release();

    public async ValueTask FinishAsync()
    {
        var close = Volatile.Read(ref _closeRequest) ?? new CloseRequest(WebSocketCloseStatus.NormalClosure, "");
        if (_socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        try
        {
            await _socket.CloseOutputAsync(close.Status, close.Description, CancellationToken.None);
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            Log.ConnectionLost(_logger, ConnectionId, exception.Message);
        }
    }

    public void Abort() => _socket.Abort();

    public void QueueOverflowed()
    {
        _telemetry.SlowReaderDisconnected();
        RequestClose(WebSocketCloseStatus.PolicyViolation, "Client is not reading fast enough");
    }

    private static ErrorMessage ToError(FailureEvent failure) => new(failure.Code switch
    {
        StatusCode.NotFound => "Session not found",
        StatusCode.InvalidArgument or StatusCode.Aborted or StatusCode.ResourceExhausted or StatusCode.FailedPrecondition
            => failure.Detail,
        StatusCode.Unavailable => "The chat service is temporarily unavailable",
        StatusCode.DeadlineExceeded => "The model did not answer in time",
        _ => "Internal server error",
    })
    {
        Code = StatusName(failure.Code),
        SessionId = failure.SessionId,
        ReplyId = failure.ReplyId,
        Retryable = failure.Code is StatusCode.Unavailable or StatusCode.ResourceExhausted or StatusCode.DeadlineExceeded
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
    }
}
