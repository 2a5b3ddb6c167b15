using System.Collections.Concurrent;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Tests.Cli;

/// <summary>
/// A small real server speaking the five public wire protocols exactly as docs and the transport branches define
/// them (HTTP/1.1 under /rest, /streaming, /sse, /websocket; gRPC chat.ChatService on an h2c port), with a scripted
/// model: the reply to "m" is the words "echo: m" one chunk each. It can drop the connection once after N chunks of
/// a reply, which the real system cannot be made to do on demand — that is what the resume tests need it for — and
/// forget a session just before a chat message names it (as if it expired between the client's check and its turn).
/// Chat with an unknown session id is get-or-create, as the real servers' (a new session, <c>is_new_session</c> /
/// <c>session_created</c>), unless the request carries the strict-session flag: then it is "Session not found".
/// </summary>
public sealed class ScriptedChatServer : IAsyncDisposable
{
    private WebApplication _app = null!;
    private readonly ConcurrentDictionary<string, List<(string Role, string Text)>> _sessions = new();
    private readonly ConcurrentDictionary<string, Turn> _turns = new();
    private int _dropAfterChunks;
    private int _forgetBeforeNextChat;

    private ScriptedChatServer()
    {
    }

    public Uri HttpUrl { get; private set; } = null!;

    public Uri GrpcUrl { get; private set; } = null!;

    public TimeSpan InterChunkDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Drop the next reply's connection once, after this many chunks (0: never).</summary>
    public void DropNextReplyAfter(int chunks) => _dropAfterChunks = chunks;

    public int CancelRequests;
    public int ResumeRequests;

    /// <summary>Chat requests (or WebSocket connections, gRPC calls) that carried the strict-session flag.</summary>
    public int StrictRequests;

    /// <summary>WebSocket upgrades are answered with this status (and Retry-After: 5), as the gateway refuses them when the service is down.</summary>
    public int? RefuseWebSocketUpgradesWith { get; set; }

    /// <summary>The next chat message's session is forgotten just before it is looked up.</summary>
    public void ForgetSessionOnNextChat() => _forgetBeforeNextChat = 1;

    public IReadOnlyCollection<string> SessionIds => [.. _sessions.Keys];

    public static async Task<ScriptedChatServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1);
            kestrel.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
        });
        var server = new ScriptedChatServer();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(server);
        var app = server._app = builder.Build();
        app.UseWebSockets();
        server.Map(app);
        app.MapGrpcService<GrpcChatService>();
        await app.StartAsync().DefaultTimeout();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        server.HttpUrl = new Uri(addresses[0]);
        server.GrpcUrl = new Uri(addresses[1]);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().DefaultTimeout();
        await _app.DisposeAsync();
    }

    private sealed class Turn(string id, string sessionId, IReadOnlyList<string> chunks, int messageCount)
    {
        public string Id { get; } = id;
        public string SessionId { get; } = sessionId;
        public IReadOnlyList<string> Chunks { get; } = chunks;

        /// <summary>The session's messages once this turn's reply is stored.</summary>
        public int MessageCount { get; } = messageCount;
        public CancellationTokenSource Cancelled { get; } = new();
    }

    /// <summary>
    /// The session a chat message runs on: the one named if known; else a new one (get-or-create), or none when the
    /// request is strict. Also where a session is forgotten on request, right before the lookup.
    /// </summary>
    private (string? SessionId, bool IsNew) ResolveSession(string? requested, bool strict)
    {
        if (strict)
        {
            Interlocked.Increment(ref StrictRequests);
        }

        if (requested is { Length: > 0 } && Interlocked.Exchange(ref _forgetBeforeNextChat, 0) == 1)
        {
            _sessions.TryRemove(requested, out _);
        }

        if (requested is not { Length: > 0 })
        {
            return (NewSession(), true);
        }

        if (_sessions.ContainsKey(requested))
        {
            return (requested, false);
        }

        return strict ? (null, false) : (NewSession(), true);
    }

    private static bool IsStrict(string? value) => value is "true" or "1";

    private static IResult StrictNotFound(string? sessionId) => Results.Problem(
        statusCode: 404, title: "Session not found", detail: "Session not found",
        extensions: new Dictionary<string, object?> { ["code"] = "session_not_found", ["session_id"] = sessionId });

    private Turn StartTurn(string sessionId, string message)
    {
        var history = _sessions[sessionId];
        var words = $"echo: {message}".Split(' ');
        var chunks = words.Select((w, i) => i == 0 ? w : " " + w).ToList();
        int messageCount;
        lock (history)
        {
            history.Add(("user", message));
            history.Add(("model", string.Concat(chunks)));
            messageCount = history.Count;
        }

        var turn = new Turn(Guid.NewGuid().ToString("N"), sessionId, chunks, messageCount);
        _turns[turn.Id] = turn;
        return turn;
    }

    private bool ShouldDrop(int chunkNumber) =>
        _dropAfterChunks > 0 && chunkNumber > _dropAfterChunks && Interlocked.Exchange(ref _dropAfterChunks, 0) > 0;

    private string NewSession()
    {
        var id = Guid.NewGuid().ToString();
        _sessions[id] = [];
        return id;
    }

    private static IResult NotFound() => Results.Problem(statusCode: 404, title: "Not Found", detail: "Session not found");

    private void Map(WebApplication app)
    {
        foreach (var prefix in new[] { "rest", "streaming", "sse", "websocket" })
        {
            var group = app.MapGroup("/" + prefix);
            group.MapGet("/health", () => Results.Json(new { status = "healthy", model = "scripted", uptime_seconds = 1.5, active_sessions = _sessions.Count }));
            group.MapGet("/stats", () => Results.Json(new { uptime_seconds = 1.5, total_requests = 7, model = "scripted", active_sessions = _sessions.Count }));
            group.MapPost("/sessions/new", () => Results.Json(new { session_id = NewSession(), model = "scripted", timestamp = DateTimeOffset.UtcNow }));
            group.MapGet("/sessions", () => Results.Json(new
            {
                active_sessions = _sessions.Count,
                sessions = _sessions.Select(s => new { session_id = s.Key, model = "scripted", message_count = s.Value.Count, duration_minutes = 0.5, created_at = "2026-01-01T00:00:00Z" }),
            }));
            group.MapGet("/sessions/{id}", (string id) => _sessions.TryGetValue(id, out var history)
                ? Results.Json(new { session_id = id, model = "scripted", message_count = history.Count, session_duration_seconds = 3.0, user_messages = history.Count / 2, model_messages = history.Count / 2, created_at = "2026-01-01T00:00:00Z" })
                : NotFound());
            group.MapDelete("/sessions/{id}", (string id) => _sessions.TryRemove(id, out _)
                ? Results.Json(new { message = $"Session {id} deleted successfully" })
                : NotFound());
            group.MapPost("/sessions/{id}/clear", (string id) =>
            {
                if (!_sessions.TryGetValue(id, out var history))
                {
                    return NotFound();
                }

                lock (history)
                {
                    history.Clear();
                }

                return Results.Json(new { message = $"Session {id} history cleared successfully" });
            });
        }

        app.MapPost("/rest/chat", async (HttpContext context) =>
        {
            var (message, requested) = await ReadChatAsync(context);
            if (message.Length == 0)
            {
                return Results.Problem(statusCode: 400, title: "Bad Request", detail: "Message is required");
            }

            var (sessionId, isNew) = ResolveSession(requested, IsStrict(context.Request.Headers["X-Chat-Strict-Session"]));
            if (sessionId is null)
            {
                return StrictNotFound(requested);
            }

            var turn = StartTurn(sessionId, message);
            await Task.Delay(InterChunkDelay * turn.Chunks.Count, context.RequestAborted);
            return Results.Json(new
            {
                response = string.Concat(turn.Chunks), session_id = sessionId, processing_time = 0.01, model = "scripted",
                message_count = turn.MessageCount, is_new_session = isNew, turn_id = turn.Id,
                usage = new { input_tokens = 3, output_tokens = turn.Chunks.Count, total_tokens = turn.Chunks.Count + 3 },
            });
        });

        app.MapPost("/streaming/chat/stream", async (HttpContext context) =>
        {
            var (message, requested) = await ReadChatAsync(context);
            var (sessionId, isNew) = ResolveSession(requested, IsStrict(context.Request.Headers["X-Chat-Strict-Session"]));
            if (sessionId is null)
            {
                await StrictNotFound(requested).ExecuteAsync(context);
                return;
            }

            var turn = StartTurn(sessionId, message);
            context.Response.ContentType = "application/x-ndjson";
            foreach (var frame in Frames(turn, isNew, after: 0))
            {
                await context.Response.WriteAsync(JsonSerializer.Serialize(frame.Body) + "\n");
                await context.Response.Body.FlushAsync();
                await Task.Delay(InterChunkDelay, context.RequestAborted);
            }
        });

        app.MapPost("/sse/chat/stream", async (HttpContext context) =>
        {
            var (message, requested) = await ReadChatAsync(context);
            var (sessionId, isNew) = ResolveSession(requested, IsStrict(context.Request.Headers["X-Chat-Strict-Session"]));
            if (sessionId is null)
            {
                await StrictNotFound(requested).ExecuteAsync(context);
                return;
            }

            await WriteSseAsync(context, StartTurn(sessionId, message), isNew, after: 0);
        });

        app.MapDelete("/sse/chat/turns/{turnId}", async (string turnId) =>
        {
            Interlocked.Increment(ref CancelRequests);
            if (_turns.TryGetValue(turnId, out var turn))
            {
                await turn.Cancelled.CancelAsync();
            }

            return Results.Json(new { turn_id = turnId, cancelled = true });
        });

        app.MapGet("/sse/chat/turns/{turnId}/events", async (HttpContext context, string turnId) =>
        {
            Interlocked.Increment(ref ResumeRequests);
            if (!_turns.TryGetValue(turnId, out var turn))
            {
                await Results.Problem(statusCode: 404, detail: "Reply not found or expired").ExecuteAsync(context);
                return;
            }

            var lastId = context.Request.Headers["Last-Event-ID"].ToString();
            var after = int.Parse(lastId[(lastId.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
            await WriteSseAsync(context, turn, isNew: false, after);
        });

        app.Map("/websocket/ws", async (HttpContext context) =>
        {
            if (RefuseWebSocketUpgradesWith is { } refusal)
            {
                context.Response.Headers.RetryAfter = "5";
                await Results.Problem(statusCode: refusal, detail: "WebSocket upgrade refused").ExecuteAsync(context);
                return;
            }

            var strict = IsStrict(context.Request.Headers["X-Chat-Strict-Session"]);
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await RunWebSocketAsync(context, socket, strict);
        });
    }

    private static async Task<(string Message, string? SessionId)> ReadChatAsync(HttpContext context)
    {
        using var body = await JsonDocument.ParseAsync(context.Request.Body);
        var root = body.RootElement;
        var message = root.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "";
        var sessionId = root.TryGetProperty("session_id", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        return (message.Trim(), sessionId);
    }

    /// <summary>The turn as the NDJSON/SSE event objects, numbered 1..n (the SSE id's sequence).</summary>
    private IEnumerable<(int Sequence, object Body, bool IsChunk)> Frames(Turn turn, bool isNew, int after)
    {
        var sequence = 0;
        var all = new List<(object, bool)>
        {
            (new { type = "session_info", session_id = turn.SessionId, model = "scripted", is_new_session = isNew, turn_id = turn.Id }, false),
            (new { type = "status", message = "Generating response...", context_messages = turn.MessageCount - 2 }, false),
        };
        all.AddRange(turn.Chunks.Select((c, i) => ((object)new { type = "chunk", text = c, chunk_number = i + 1, is_final = false }, true)));
        all.Add((new { type = "complete", total_chunks = turn.Chunks.Count, processing_time = 0.05, message_count = turn.MessageCount, session_id = turn.SessionId, output_tokens = turn.Chunks.Count, turn_id = turn.Id }, false));
        foreach (var (body, isChunk) in all)
        {
            if (++sequence > after)
            {
                yield return (sequence, body, isChunk);
            }
        }
    }

    private async Task WriteSseAsync(HttpContext context, Turn turn, bool isNew, int after)
    {
        context.Response.ContentType = "text/event-stream";
        var chunkNumber = 0;
        foreach (var (sequence, body, isChunk) in Frames(turn, isNew, after))
        {
            if (isChunk && ShouldDrop(++chunkNumber + after))
            {
                context.Abort();
                return;
            }

            var type = JsonSerializer.SerializeToElement(body).GetProperty("type").GetString();
            await context.Response.WriteAsync($"id: {turn.Id}:{sequence}\nevent: {type}\ndata: {JsonSerializer.Serialize(body)}\n\n");
            await context.Response.Body.FlushAsync();
            await Task.Delay(InterChunkDelay);
        }
    }

    private async Task RunWebSocketAsync(HttpContext context, System.Net.WebSockets.WebSocket socket, bool strict)
    {
        async Task SendAsync(object message) =>
            await socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, true, CancellationToken.None);

        await SendAsync(new { type = "connected", connection_id = "c1", message = "Connected" });
        var buffer = new byte[64 * 1024];
        Task? relay = null;
        while (socket.State == WebSocketState.Open)
        {
            WebSocketReceiveResult received;
            try
            {
                received = await socket.ReceiveAsync(buffer, context.RequestAborted);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                return;
            }

            if (received.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                return;
            }

            var root = JsonDocument.Parse(Encoding.UTF8.GetString(buffer, 0, received.Count)).RootElement;
            switch (root.GetProperty("type").GetString())
            {
                case "chat":
                    var requested = root.TryGetProperty("session_id", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
                    var (sessionId, isNew) = ResolveSession(requested, strict);
                    if (sessionId is null)
                    {
                        await SendAsync(new { type = "error", message = "Session not found", code = "NOT_FOUND", session_id = requested });
                        break;
                    }

                    if (isNew)
                    {
                        await SendAsync(new { type = "session_created", session_id = sessionId, model = "scripted", connection_id = "c1" });
                    }

                    var turn = StartTurn(sessionId, root.GetProperty("message").GetString()!);
                    relay = RelayAsync(turn, after: 0);
                    break;
                case "resume":
                    Interlocked.Increment(ref ResumeRequests);
                    relay = RelayAsync(_turns[root.GetProperty("reply_id").GetString()!], root.GetProperty("last_chunk_number").GetInt32());
                    break;
                case "cancel":
                    Interlocked.Increment(ref CancelRequests);
                    if (_turns.TryGetValue(root.GetProperty("reply_id").GetString() ?? "", out var cancelled))
                    {
                        await cancelled.Cancelled.CancelAsync();
                    }

                    break;
            }
        }

        async Task RelayAsync(Turn turn, int after)
        {
            await SendAsync(new { type = "status", message = "Generating response...", session_id = turn.SessionId, context_messages = 0, reply_id = turn.Id });
            await SendAsync(new { type = "response_start", session_id = turn.SessionId, total_length = 0, reply_id = turn.Id });
            for (var i = after; i < turn.Chunks.Count; i++)
            {
                if (turn.Cancelled.IsCancellationRequested)
                {
                    await SendAsync(new { type = "response_cancelled", session_id = turn.SessionId, reply_id = turn.Id, total_chunks = i });
                    return;
                }

                if (ShouldDrop(i + 1))
                {
                    context.Abort();
                    return;
                }

                await SendAsync(new { type = "chunk", text = turn.Chunks[i], chunk_number = i + 1, is_final = false, session_id = turn.SessionId, reply_id = turn.Id });
                await Task.Delay(InterChunkDelay);
            }

            await SendAsync(new { type = "response_complete", total_chunks = turn.Chunks.Count, processing_time = 0.05, message_count = turn.MessageCount, session_id = turn.SessionId, full_response = string.Concat(turn.Chunks), reply_id = turn.Id, output_tokens = turn.Chunks.Count });
        }
    }

    /// <summary>chat.ChatService as the gRPC transport serves it (additions: CANCEL, RESUME, reply ids).</summary>
    private sealed class GrpcChatService(ScriptedChatServer server) : ChatService.ChatServiceBase
    {
        public override Task<CreateSessionResponse> CreateSession(CreateSessionRequest request, ServerCallContext context) =>
            Task.FromResult(new CreateSessionResponse { SessionId = server.NewSession(), Model = "scripted", Success = true, Message = "Session created" });

        public override Task<SessionInfoResponse> GetSessionInfo(SessionInfoRequest request, ServerCallContext context) =>
            Task.FromResult(server._sessions.TryGetValue(request.SessionId, out var history)
                ? new SessionInfoResponse { Success = true, SessionId = request.SessionId, Model = "scripted", MessageCount = history.Count, UserMessages = history.Count / 2, ModelMessages = history.Count / 2, DurationSeconds = 3, DurationSecondsExact = 3.25 }
                : new SessionInfoResponse { Success = false, Message = "Session not found" });

        public override Task<ListSessionsResponse> ListSessions(ListSessionsRequest request, ServerCallContext context)
        {
            var response = new ListSessionsResponse { ActiveSessions = server._sessions.Count };
            response.Sessions.AddRange(server._sessions.Select(s => new SessionSummary { SessionId = s.Key, Model = "scripted", MessageCount = s.Value.Count }));
            return Task.FromResult(response);
        }

        public override Task<DeleteSessionResponse> DeleteSession(DeleteSessionRequest request, ServerCallContext context) =>
            server._sessions.TryRemove(request.SessionId, out _)
                ? Task.FromResult(new DeleteSessionResponse { Success = true, Message = $"Session {request.SessionId} deleted successfully" })
                : throw new RpcException(new Status(StatusCode.NotFound, "Session not found"));

        public override Task<ServerStatsResponse> GetServerStats(ServerStatsRequest request, ServerCallContext context) =>
            Task.FromResult(new ServerStatsResponse { UptimeSeconds = 1, UptimeSecondsExact = 1.5, TotalRequests = 7, Model = "scripted", Framework = "scripted", ActiveSessions = server._sessions.Count });

        public override async Task Chat(IAsyncStreamReader<ChatRequest> requestStream, IServerStreamWriter<ChatResponse> responseStream, ServerCallContext context)
        {
            Task? relay = null;
            var writeLock = new SemaphoreSlim(1, 1);
            async Task WriteAsync(ChatResponse response)
            {
                await writeLock.WaitAsync();
                try
                {
                    await responseStream.WriteAsync(response);
                }
                finally
                {
                    writeLock.Release();
                }
            }

            var strict = IsStrict(context.RequestHeaders.GetValue("x-chat-strict-session"));
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                switch (request.Type)
                {
                    case ChatRequest.Types.MessageType.Message:
                        var (sessionId, isNew) = server.ResolveSession(request.SessionId, strict);
                        if (sessionId is null)
                        {
                            await WriteAsync(new ChatResponse { Type = ChatResponse.Types.ResponseType.Error, ErrorMessage = "Session not found", ErrorCode = "NOT_FOUND", SessionId = request.SessionId });
                            return;
                        }

                        if (isNew)
                        {
                            await WriteAsync(new ChatResponse { Type = ChatResponse.Types.ResponseType.SessionUpdate, UpdateType = "session_created", SessionId = sessionId });
                        }

                        relay = RelayAsync(server.StartTurn(sessionId, request.Message), 0);
                        break;
                    case ChatRequest.Types.MessageType.Resume:
                        Interlocked.Increment(ref server.ResumeRequests);
                        relay = RelayAsync(server._turns[request.ReplyId], request.LastChunkNumber);
                        break;
                    case ChatRequest.Types.MessageType.Cancel:
                        Interlocked.Increment(ref server.CancelRequests);
                        if (server._turns.TryGetValue(request.ReplyId, out var turn))
                        {
                            await turn.Cancelled.CancelAsync();
                        }

                        break;
                }
            }

            if (relay is not null)
            {
                await relay;
            }

            async Task RelayAsync(Turn turn, int after)
            {
                await WriteAsync(new ChatResponse { Type = ChatResponse.Types.ResponseType.Status, SessionId = turn.SessionId, StatusMessage = "Generating response...", ReplyId = turn.Id });
                await WriteAsync(new ChatResponse { Type = ChatResponse.Types.ResponseType.ResponseStart, SessionId = turn.SessionId, ReplyId = turn.Id });
                for (var i = after; i < turn.Chunks.Count; i++)
                {
                    if (turn.Cancelled.IsCancellationRequested)
                    {
                        await WriteAsync(new ChatResponse { Type = ChatResponse.Types.ResponseType.Error, ErrorMessage = "Response cancelled", ErrorCode = "CANCELLED", ReplyId = turn.Id, SessionId = turn.SessionId });
                        return;
                    }

                    if (server.ShouldDrop(i + 1))
                    {
                        context.GetHttpContext().Abort();
                        return;
                    }

                    await WriteAsync(new ChatResponse { Type = ChatResponse.Types.ResponseType.Chunk, SessionId = turn.SessionId, ChunkText = turn.Chunks[i], ChunkNumber = i + 1, ReplyId = turn.Id });
                    await Task.Delay(server.InterChunkDelay);
                }

                await WriteAsync(new ChatResponse
                {
                    Type = ChatResponse.Types.ResponseType.ResponseComplete, SessionId = turn.SessionId, TotalChunks = turn.Chunks.Count, ProcessingTime = 0.05,
                    MessageCount = turn.MessageCount, ReplyId = turn.Id, OutputTokens = turn.Chunks.Count, FullResponse = string.Concat(turn.Chunks),
                });
            }
        }
    }
}
