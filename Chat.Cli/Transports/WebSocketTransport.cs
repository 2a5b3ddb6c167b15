using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Chat.Cli.Transports;

/// <summary>
/// WebSocket: one connection to <c>/ws</c> carries every turn as JSON messages (<c>chat</c> →
/// <c>status</c>, <c>response_start</c>, <c>chunk</c>…, <c>response_complete</c>). Cancelling sends <c>cancel</c>;
/// a dropped connection is reopened and the reply continued with <c>resume</c> {reply_id, last_chunk_number}.
/// Session management uses the service's HTTP routes.
/// </summary>
public sealed class WebSocketTransport(Uri baseUrl, Uri webSocketUrl, TimeSpan requestTimeout, ReconnectPolicy? reconnect = null, bool strictSession = false)
    : HttpChatTransport(Protocols.WebSocket, baseUrl, requestTimeout, strictSession)
{
    private readonly ReconnectPolicy _reconnect = reconnect ?? ReconnectPolicy.Default;
    private static readonly TimeSpan CancelDrainTimeout = TimeSpan.FromSeconds(3);
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private Connection? _connection;

    public override bool SupportsResume => true;

    public Uri WebSocketUrl { get; } = webSocketUrl;

    public override IAsyncEnumerable<ChatEvent> SendAsync(string? sessionId, string message, CancellationToken cancellationToken)
    {
        var reply = new ResumableReply(_reconnect) { SessionId = sessionId };
        return reply.FollowAsync(
            token => TurnAsync(reply, new { type = "chat", message, session_id = sessionId }, token),
            (point, token) => TurnAsync(reply, ResumeMessage(point), token),
            point => PendingResume = point,
            WebSocketUrl.ToString(),
            cancellationToken);
    }

    public override IAsyncEnumerable<ChatEvent> ResumeAsync(ResumePoint resumePoint, CancellationToken cancellationToken)
    {
        var reply = new ResumableReply(_reconnect) { SessionId = resumePoint.SessionId, ReplyId = resumePoint.ReplyId };
        return reply.FollowAsync(
            token => TurnAsync(reply, ResumeMessage(resumePoint), token),
            (point, token) => TurnAsync(reply, ResumeMessage(point), token),
            point => PendingResume = point,
            WebSocketUrl.ToString(),
            cancellationToken);
    }

    private static object ResumeMessage(ResumePoint point) => new
    {
        type = "resume",
        session_id = point.SessionId,
        reply_id = point.ReplyId,
        last_chunk_number = point.LastChunkNumber,
    };

    private async IAsyncEnumerable<ChatEvent> TurnAsync(
        ResumableReply reply, object request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken);
        await connection.SendAsync(request, cancellationToken);

        while (true)
        {
            JsonElement message;
            try
            {
                message = await connection.ReceiveAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await CancelReplyAsync(connection, reply);
                throw;
            }

            var type = message.String("type");
            if (reply.ReplyId is null && type is not "session_update" && message.String("reply_id") is { Length: > 0 } replyId)
            {
                reply.ReplyId = replyId;
            }

            // Other connections' typing and message notices, pongs and the greeting are not part of this reply.
            if (type is "session_update" or "pong" or "connected" or "session_joined")
            {
                continue;
            }

            if (message.ToChatEvent() is not { } chatEvent)
            {
                continue;
            }

            yield return chatEvent;
            if (chatEvent is CompletedEvent or ErrorEvent)
            {
                yield break;
            }
        }
    }

    /// <summary>Asks the server to stop the reply, then reads until it says the reply ended (bounded).</summary>
    private static async Task CancelReplyAsync(Connection connection, ResumableReply reply)
    {
        using var drain = new CancellationTokenSource(CancelDrainTimeout);
        try
        {
            await connection.SendAsync(new { type = "cancel", session_id = reply.SessionId, reply_id = reply.ReplyId }, drain.Token);
            while (true)
            {
                var message = await connection.ReceiveAsync(drain.Token);
                if (message.String("type") is "response_complete" or "response_cancelled" or "error")
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or WebSocketException)
        {
            // The server did not confirm in time: drop the connection so late chunks cannot leak into the next reply.
            await connection.DisposeAsync();
        }
    }

    private async Task<Connection> ConnectAsync(CancellationToken cancellationToken)
    {
        await _connectLock.WaitAsync(cancellationToken);
        try
        {
            if (_connection is { IsOpen: true } open)
            {
                return open;
            }

            if (_connection is not null)
            {
                await _connection.DisposeAsync();
            }

            var socket = new ClientWebSocket();
            socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(15);
            if (StrictSession)
            {
                // Per connection: every chat message on it is strict.
                socket.Options.SetRequestHeader(StrictSessionFlag.HeaderName, StrictSessionFlag.Value);
            }
            // A refused upgrade is an HTTP answer (the gateway's 503 when the service is down, 401, 429): keep its status.
            socket.Options.CollectHttpResponseDetails = true;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(RequestTimeout);
            try
            {
                await socket.ConnectAsync(WebSocketUrl, timeout.Token);
            }
            catch (WebSocketException) when ((int)socket.HttpStatusCode >= 400)
            {
                var status = (int)socket.HttpStatusCode;
                var retryAfter = socket.HttpResponseHeaders?.TryGetValue("Retry-After", out var values) == true ? $" (retry after {values.FirstOrDefault()} s)" : "";
                socket.Dispose();
                throw ChatTransportException.FromHttpStatus(status,
                    $"{WebSocketUrl} refused the WebSocket upgrade: {(System.Net.HttpStatusCode)status} [HTTP {status}]{retryAfter}");
            }
            catch (Exception e) when (e is WebSocketException or HttpRequestException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                socket.Dispose();
                throw ChatTransportException.Unreachable(WebSocketUrl.ToString(), e.InnerException ?? e);
            }

            _connection = new Connection(socket);
            return _connection;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.CloseAsync();
            await _connection.DisposeAsync();
        }

        _connectLock.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>One socket, its receive loop (messages into a channel) and serialized sends.</summary>
    private sealed class Connection : IAsyncDisposable
    {
        private const int MaxMessageBytes = 4 * 1024 * 1024;
        private readonly ClientWebSocket _socket;
        private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>(new() { SingleReader = true });
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _receiveLoop;
        private string _closeReason = "the connection closed";
        private int _disposed;

        public Connection(ClientWebSocket socket)
        {
            _socket = socket;
            _receiveLoop = ReceiveLoopAsync();
        }

        public bool IsOpen => _disposed == 0 && _socket.State == WebSocketState.Open && !_receiveLoop.IsCompleted;

        public async Task SendAsync(object message, CancellationToken cancellationToken)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(message);
            await _sendLock.WaitAsync(cancellationToken);
            try
            {
                await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public async Task<JsonElement> ReceiveAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await _messages.Reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException e)
            {
                throw new IOException($"WebSocket closed: {_closeReason}", e);
            }
        }

        private async Task ReceiveLoopAsync()
        {
            var buffer = new byte[16 * 1024];
            using var message = new MemoryStream();
            try
            {
                while (true)
                {
                    var result = await _socket.ReceiveAsync(buffer, _stop.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        _closeReason = $"closed by the server ({_socket.CloseStatus} {_socket.CloseStatusDescription})".TrimEnd();
                        break;
                    }

                    message.Write(buffer, 0, result.Count);
                    if (message.Length > MaxMessageBytes)
                    {
                        _closeReason = "a server message exceeded 4 MB";
                        break;
                    }

                    if (!result.EndOfMessage)
                    {
                        continue;
                    }

                    try
                    {
                        using var document = JsonDocument.Parse(message.ToArray());
                        _messages.Writer.TryWrite(document.RootElement.Clone());
                    }
                    catch (JsonException)
                    {
                        // Not one of ours; the protocol is JSON text frames only.
                    }

                    message.SetLength(0);
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
            {
                _closeReason = e.Message;
            }
            finally
            {
                _messages.Writer.TryComplete();
            }
        }

        public async Task CloseAsync()
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
                {
                    // Closing is best effort.
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1)
            {
                return;
            }

            await _stop.CancelAsync();
            _socket.Abort();
            await _receiveLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _socket.Dispose();
            _sendLock.Dispose();
            _stop.Dispose();
        }
    }
}
