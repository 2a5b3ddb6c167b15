using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Chat.Contracts.Formats;
using Chat.Contracts.Public;
using Grpc.Core;
using Grpc.Net.Client;

namespace Chat.Cli.Transports;

/// <summary>
/// Native gRPC (<c>chat.ChatService</c> over cleartext HTTP/2). Each turn is one <c>Chat</c> call: MESSAGE, then
/// STATUS, RESPONSE_START, CHUNK…, RESPONSE_COMPLETE (or ERROR). Cancelling sends CANCEL; a dropped call is
/// continued on a new one with RESUME {reply_id, last_chunk_number}.
/// </summary>
public sealed class GrpcTransport : IChatTransport
{
    private static readonly TimeSpan CancelDrainTimeout = TimeSpan.FromSeconds(3);
    private readonly GrpcChannel _channel;
    private readonly ChatService.ChatServiceClient _client;
    private readonly TimeSpan _requestTimeout;
    private readonly RestTransport? _clearRoute;
    private readonly ReconnectPolicy _reconnect;
    private readonly Metadata _chatHeaders;

    /// <param name="address">The gateway's HTTP/2 port (or the gRPC service itself).</param>
    /// <param name="restBaseUrl">ChatService has no "clear history" RPC; <c>/reset</c> uses this REST route for the same session.</param>
    /// <param name="strictSession">Chat calls carry <see cref="StrictSessionFlag"/>: an unknown session is NOT_FOUND, not replaced.</param>
    public GrpcTransport(Uri address, Uri? restBaseUrl, TimeSpan requestTimeout, ReconnectPolicy? reconnect = null, bool strictSession = false)
    {
        _reconnect = reconnect ?? ReconnectPolicy.Default;
        _chatHeaders = new Metadata { { "chat-resumable", "true" } };
        if (strictSession)
        {
            _chatHeaders.Add(StrictSessionFlag.MetadataKey, StrictSessionFlag.Value);
        }

        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(10),
                KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                EnableMultipleHttp2Connections = true,
            },
        });
        _client = new ChatService.ChatServiceClient(_channel);
        _requestTimeout = requestTimeout;
        _clearRoute = restBaseUrl is null ? null : new RestTransport(restBaseUrl, requestTimeout, strictSession);
        Endpoint = address.ToString();
    }

    public string Name => Protocols.Grpc;

    public string Endpoint { get; }

    public bool SupportsResume => true;

    public ResumePoint? PendingResume { get; private set; }

    // gRPC has no documentation page or demo page of its own.
    public Uri? DocsUri => null;

    public Uri? DemoUri => null;

    public Task<CreatedSession> CreateSessionAsync(string? modelId, CancellationToken cancellationToken) =>
        CallAsync(async options =>
        {
            var response = await _client.CreateSessionAsync(new CreateSessionRequest { ModelId = modelId ?? "" }, options);
            if (!response.Success)
            {
                throw new ChatTransportException(ChatErrorKind.Other, Or(response.Message, "The server could not create a session."));
            }

            return new CreatedSession(response.SessionId, NullIfEmpty(response.Model));
        }, cancellationToken);

    public Task<SessionDetails> GetSessionAsync(string sessionId, CancellationToken cancellationToken) =>
        CallAsync(async options =>
        {
            var info = await _client.GetSessionInfoAsync(new SessionInfoRequest { SessionId = sessionId }, options);
            if (!info.Success)
            {
                // The original answers "not found" inside the message with status OK.
                throw new ChatTransportException(Json.KindOf(null, info.Message) is ChatErrorKind.NotFound ? ChatErrorKind.NotFound : ChatErrorKind.Other,
                    Or(info.Message, "Session not found"));
            }

            return new SessionDetails(Or(info.SessionId, sessionId), NullIfEmpty(info.Model), info.MessageCount, info.UserMessages,
                info.ModelMessages,
                // The precise age where the server sends it (ours); the original's whole seconds otherwise.
                info.DurationSecondsExact > 0 ? Math.Round(info.DurationSecondsExact, 2) : info.DurationSeconds,
                NullIfEmpty(info.CreatedAt));
        }, cancellationToken);

    public Task<SessionList> ListSessionsAsync(CancellationToken cancellationToken) =>
        CallAsync(async options =>
        {
            var list = await _client.ListSessionsAsync(new ListSessionsRequest(), options);
            return new SessionList(list.ActiveSessions, [.. list.Sessions.Select(s =>
                new SessionSummary(s.SessionId, NullIfEmpty(s.Model), s.MessageCount,
                    s.DurationSecondsExact > 0 ? Math.Round(s.DurationSecondsExact / 60, 2) : s.DurationMinutes,
                    NullIfEmpty(s.CreatedAt)))]);
        }, cancellationToken);

    public Task<string> DeleteSessionAsync(string sessionId, CancellationToken cancellationToken) =>
        CallAsync(async options =>
        {
            var response = await _client.DeleteSessionAsync(new DeleteSessionRequest { SessionId = sessionId }, options);
            if (!response.Success)
            {
                throw new ChatTransportException(Json.KindOf(null, response.Message), Or(response.Message, "The session could not be deleted."));
            }

            return Or(response.Message, $"Session {sessionId} deleted");
        }, cancellationToken);

    public Task<string> ClearSessionAsync(string sessionId, CancellationToken cancellationToken) =>
        _clearRoute?.ClearSessionAsync(sessionId, cancellationToken)
        ?? throw new ChatTransportException(ChatErrorKind.NotSupported, "chat.ChatService has no RPC to clear a session's history.");

    /// <summary>The service declares HealthRequest/HealthResponse but no RPC: health is "the server answers GetServerStats".</summary>
    public Task<ServerReport> GetHealthAsync(CancellationToken cancellationToken) =>
        CallAsync(async options =>
        {
            var stats = await _client.GetServerStatsAsync(new ServerStatsRequest(), options);
            return new ServerReport(
            [
                KeyValuePair.Create("status", "healthy"),
                KeyValuePair.Create("model", stats.Model),
                KeyValuePair.Create("uptime_seconds", Number(stats.UptimeSeconds)),
                KeyValuePair.Create("active_sessions", Number(stats.ActiveSessions)),
            ]);
        }, cancellationToken);

    public Task<ServerReport> GetStatsAsync(CancellationToken cancellationToken) =>
        CallAsync(async options =>
        {
            var stats = await _client.GetServerStatsAsync(new ServerStatsRequest(), options);
            return new ServerReport(
            [
                KeyValuePair.Create("uptime_seconds", Number(stats.UptimeSeconds)),
                KeyValuePair.Create("total_requests", Number(stats.TotalRequests)),
                KeyValuePair.Create("successful_requests", Number(stats.SuccessfulRequests)),
                KeyValuePair.Create("failed_requests", Number(stats.FailedRequests)),
                KeyValuePair.Create("active_sessions", Number(stats.ActiveSessions)),
                KeyValuePair.Create("total_sessions_created", Number(stats.TotalSessionsCreated)),
                KeyValuePair.Create("average_response_time", Number(stats.AverageResponseTime)),
                KeyValuePair.Create("model", stats.Model),
                KeyValuePair.Create("framework", stats.Framework),
            ]);
        }, cancellationToken);

    public async IAsyncEnumerable<ChatEvent> SendAsync(string? sessionId, string message, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (sessionId is null)
        {
            // The original gRPC client creates the session first: a MESSAGE without one is "No session established".
            var created = await CreateSessionAsync(null, cancellationToken);
            sessionId = created.SessionId;
            yield return new SessionEvent(created.SessionId, created.Model, IsNew: true);
        }

        await foreach (var chatEvent in FollowAsync(sessionId, message, cancellationToken))
        {
            yield return chatEvent;
        }
    }

    private IAsyncEnumerable<ChatEvent> FollowAsync(string sessionId, string message, CancellationToken cancellationToken)
    {
        var reply = new ResumableReply(_reconnect) { SessionId = sessionId };
        var request = new ChatRequest
        {
            Type = ChatRequest.Types.MessageType.Message,
            SessionId = sessionId,
            Message = message,
            Timestamp = OriginalFormat.Timestamp(DateTimeOffset.UtcNow),
        };
        return reply.FollowAsync(
            token => TurnAsync(reply, request, token),
            (point, token) => TurnAsync(reply, ResumeRequest(point), token),
            point => PendingResume = point,
            Endpoint,
            cancellationToken);
    }

    public IAsyncEnumerable<ChatEvent> ResumeAsync(ResumePoint resumePoint, CancellationToken cancellationToken)
    {
        var reply = new ResumableReply(_reconnect) { SessionId = resumePoint.SessionId, ReplyId = resumePoint.ReplyId };
        return reply.FollowAsync(
            token => TurnAsync(reply, ResumeRequest(resumePoint), token),
            (point, token) => TurnAsync(reply, ResumeRequest(point), token),
            point => PendingResume = point,
            Endpoint,
            cancellationToken);
    }

    private static ChatRequest ResumeRequest(ResumePoint point) => new()
    {
        Type = ChatRequest.Types.MessageType.Resume,
        SessionId = point.SessionId ?? "",
        ReplyId = point.ReplyId,
        LastChunkNumber = point.LastChunkNumber,
        Timestamp = OriginalFormat.Timestamp(DateTimeOffset.UtcNow),
    };

    private async IAsyncEnumerable<ChatEvent> TurnAsync(
        ResumableReply reply, ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The call is not bound to the caller's token: cancelling sends CANCEL on it first, then ends it.
        // "chat-resumable: true" keeps the reply running on the server when the connection drops, for a RESUME.
        using var call = _client.Chat(_chatHeaders, cancellationToken: CancellationToken.None);
        var responses = new ResponseReader(call.ResponseStream);
        try
        {
            await WriteAsync(call, request, cancellationToken);
            while (true)
            {
                ChatResponse response;
                try
                {
                    if (!await responses.MoveNextAsync(cancellationToken))
                    {
                        yield break;
                    }

                    response = call.ResponseStream.Current;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    await CancelReplyAsync(call, responses, reply);
                    throw;
                }
                catch (RpcException e)
                {
                    throw ToException(e);
                }

                if (response.ReplyId.Length > 0 && response.Type != ChatResponse.Types.ResponseType.SessionUpdate)
                {
                    reply.ReplyId ??= response.ReplyId;
                }

                if (ToChatEvent(response) is not { } chatEvent)
                {
                    continue;
                }

                yield return chatEvent;
                if (chatEvent is CompletedEvent or ErrorEvent)
                {
                    await call.RequestStream.CompleteAsync();
                    yield break;
                }
            }
        }
        finally
        {
            responses.Abandon();
        }
    }

    /// <summary>
    /// Reads responses one at a time; a read the caller stopped waiting for (Ctrl+C) stays pending and is the next
    /// one awaited, because a gRPC stream allows a single outstanding read.
    /// </summary>
    private sealed class ResponseReader(IAsyncStreamReader<ChatResponse> stream)
    {
        private Task<bool>? _pending;

        public async Task<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            _pending ??= stream.MoveNext(CancellationToken.None);
            var result = await _pending.WaitAsync(cancellationToken);
            _pending = null;
            return result;
        }

        /// <summary>The call is being disposed: observe the read it cancels so it is not an unobserved exception.</summary>
        public void Abandon() => _pending?.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
    }

    private async Task CancelReplyAsync(AsyncDuplexStreamingCall<ChatRequest, ChatResponse> call, ResponseReader responses, ResumableReply reply)
    {
        using var drain = new CancellationTokenSource(CancelDrainTimeout);
        try
        {
            await call.RequestStream.WriteAsync(new ChatRequest
            {
                Type = ChatRequest.Types.MessageType.Cancel,
                SessionId = reply.SessionId ?? "",
                ReplyId = reply.ReplyId ?? "",
                Timestamp = OriginalFormat.Timestamp(DateTimeOffset.UtcNow),
            }, drain.Token);
            await call.RequestStream.CompleteAsync();
            while (await responses.MoveNextAsync(drain.Token))
            {
                if (call.ResponseStream.Current.Type is ChatResponse.Types.ResponseType.ResponseComplete or ChatResponse.Types.ResponseType.Error)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException or InvalidOperationException or IOException)
        {
            // Unconfirmed: disposing the call (by the caller) resets the stream, which also stops the reply.
        }
    }

    private async Task WriteAsync(AsyncDuplexStreamingCall<ChatRequest, ChatResponse> call, ChatRequest request, CancellationToken cancellationToken)
    {
        try
        {
            await call.RequestStream.WriteAsync(request, cancellationToken);
        }
        catch (RpcException e)
        {
            throw ToException(e);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or InvalidOperationException)
        {
            // Writing fails when the call already ended: its status says why.
            var status = call.GetStatus();
            throw status.StatusCode == StatusCode.OK ? ChatTransportException.Unreachable(Endpoint, e) : ToException(new RpcException(status));
        }
    }

    private static ChatEvent? ToChatEvent(ChatResponse response) => response.Type switch
    {
        ChatResponse.Types.ResponseType.Status => new StatusEvent(response.StatusMessage, response.ContextMessages),
        ChatResponse.Types.ResponseType.ResponseStart => new ReplyStartedEvent(NullIfEmpty(response.ReplyId)),
        ChatResponse.Types.ResponseType.Chunk => new ChunkEvent(response.ChunkText, response.ChunkNumber),
        ChatResponse.Types.ResponseType.ResponseComplete => new CompletedEvent(
            response.TotalChunks,
            response.ProcessingTime,
            response.MessageCount,
            response.InputTokens == 0 ? null : response.InputTokens,
            response.OutputTokens == 0 ? null : response.OutputTokens,
            NullIfEmpty(response.FinishReason),
            NullIfEmpty(response.FullResponse)),
        ChatResponse.Types.ResponseType.Error => new ErrorEvent(
            Or(response.ErrorMessage, "The server reported an error."),
            Json.KindOf(NullIfEmpty(response.ErrorCode), response.ErrorMessage),
            NullIfEmpty(response.ErrorCode)),
        ChatResponse.Types.ResponseType.SessionUpdate when response.UpdateType is "session_created" =>
            new SessionEvent(response.SessionId, null, IsNew: true),
        _ => null,
    };

    private async Task<T> CallAsync<T>(Func<CallOptions, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(new CallOptions(deadline: DateTime.UtcNow.Add(_requestTimeout), cancellationToken: cancellationToken));
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
        {
            throw ToException(e);
        }
    }

    /// <summary>The status detail, never the exception text; connection refused becomes "cannot reach".</summary>
    private ChatTransportException ToException(RpcException e)
    {
        var kind = e.StatusCode switch
        {
            StatusCode.InvalidArgument or StatusCode.OutOfRange => ChatErrorKind.InvalidArgument,
            StatusCode.NotFound => ChatErrorKind.NotFound,
            StatusCode.Aborted or StatusCode.AlreadyExists or StatusCode.FailedPrecondition => ChatErrorKind.Conflict,
            StatusCode.ResourceExhausted => ChatErrorKind.RateLimited,
            StatusCode.Unavailable => ChatErrorKind.Unavailable,
            StatusCode.DeadlineExceeded => ChatErrorKind.Timeout,
            StatusCode.Cancelled => ChatErrorKind.Cancelled,
            StatusCode.Unimplemented => ChatErrorKind.NotSupported,
            _ => ChatErrorKind.Other,
        };
        if (e.StatusCode == StatusCode.Unavailable && FindSocketError(e) is { } socketError)
        {
            return new ChatTransportException(kind, $"Cannot reach {Endpoint}: {socketError.Message}", e);
        }

        // A stream reset or a broken connection surfaces as INTERNAL with the transport error inside: a lost connection.
        if (e.StatusCode == StatusCode.Internal && e.Status.DebugException is HttpRequestException or IOException)
        {
            return new ChatTransportException(ChatErrorKind.Unavailable, $"Connection to {Endpoint} lost: {e.Status.DebugException.Message}", e);
        }

        var detail = string.IsNullOrWhiteSpace(e.Status.Detail) ? e.StatusCode.ToString() : e.Status.Detail;
        return new ChatTransportException(kind, $"{detail} [gRPC {e.StatusCode}]", e);
    }

    private static SocketException? FindSocketError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is SocketException socket)
            {
                return socket;
            }
        }

        return null;
    }

    private static string Number(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Or(string value, string fallback) => string.IsNullOrEmpty(value) ? fallback : value;

    private static string? NullIfEmpty(string value) => string.IsNullOrEmpty(value) ? null : value;

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        if (_clearRoute is not null)
        {
            await _clearRoute.DisposeAsync();
        }
    }
}
