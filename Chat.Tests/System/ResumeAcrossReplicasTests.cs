using System.Diagnostics;
using System.Net;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Core;
using Grpc.Net.Client;
using ResponseType = Chat.Contracts.Public.ChatResponse.Types.ResponseType;
using RequestType = Chat.Contracts.Public.ChatRequest.Types.MessageType;

namespace Chat.Tests.SystemTests;

/// <summary>
/// The resume rules (docs/resume.md) from outside the services, in the whole graph with two replicas of each streaming
/// transport: a reply whose transport replica is SIGKILLed mid-stream is resumed on the other replica exactly once, on
/// SSE, WebSocket and gRPC; a resume after the buffer expired, or with a stale epoch, is answered as such on all three;
/// and one reply is read over SSE, then WebSocket, then gRPC, through the gateway. NDJSON offers no resume.
/// </summary>
public sealed class ResumeAcrossReplicasTests(ResumeAcrossReplicasTests.Graph graph) : IClassFixture<ResumeAcrossReplicasTests.Graph>
{
    private const string StaleEpoch = "0123456789ab";

    private readonly DistributedApplication _app = graph.App;

    public static TheoryData<string> Transports => new("sse", "websocket", "grpc");

    [Fact]
    public async Task SessionUpdates_FanOutAcrossReplicas_ToWebSocketAndGrpcClientsOfTheSameSession()
    {
        // Two WebSocket clients on the two websocket replicas and a gRPC watcher on the second grpc replica, one session.
        await using var author = await ChatSocket.ConnectAsync(new Uri($"ws://{Address("websocket", 0).Authority}/ws"));
        await using var reader = await ChatSocket.ConnectAsync(new Uri($"ws://{Address("websocket", 1).Authority}/ws"));
        Assert.Equal("connected", (await author.ReceiveMessageAsync()).Type());
        Assert.Equal("connected", (await reader.ReceiveMessageAsync()).Type());
        await author.SendAsync(new { type = "create_session" });
        var sessionId = (await author.ReceiveUntilAsync("session_created"))[^1].Str("session_id");
        await reader.SendAsync(new { type = "join_session", session_id = sessionId });
        Assert.Equal(sessionId, (await reader.ReceiveUntilAsync("session_joined"))[^1].Str("session_id"));

        using var channel = GrpcChannel.ForAddress(Address("grpc", 1));
        using var watch = new ChatService.ChatServiceClient(channel).WatchSession(new SessionInfoRequest { SessionId = sessionId });
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal("Watching session", watch.ResponseStream.Current.StatusMessage);

        // Typing on one replica reaches the other replica's socket and the gRPC watcher.
        await author.SendAsync(new { type = "typing_start", session_id = sessionId });
        var typing = (await reader.ReceiveUntilAsync("session_update"))[^1];
        Assert.Equal(("user_typing", true), (typing.Str("update_type"), typing.GetProperty("typing").GetBoolean()));
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal("user_typing", watch.ResponseStream.Current.UpdateType);

        // A reply stored through one replica is announced on the others.
        await author.SendAsync(new { type = "chat", session_id = sessionId, message = "Fan out, please" });
        Assert.Contains("Fan out, please", (await author.ReceiveUntilAsync("response_complete"))[^1].Str("full_response"), StringComparison.Ordinal);
        var added = await NextUpdateAsync(reader, "message_added");
        Assert.Equal((2, "Fan out, please"), (added.Int("message_count"), added.Str("last_message_preview")));
        ChatResponse watched;
        do
        {
            Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            watched = watch.ResponseStream.Current;
        }
        while (watched.UpdateType != "message_added");
        Assert.Equal((ResponseType.SessionUpdate, 2), (watched.Type, watched.MessageCount));
    }

    private static async Task<System.Text.Json.JsonElement> NextUpdateAsync(ChatSocket socket, string updateType)
    {
        while (true)
        {
            var update = (await socket.ReceiveUntilAsync("session_update"))[^1];
            if (update.Str("update_type") == updateType)
            {
                return update;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task ReplicaKilledMidReply_TheReplyResumesOnTheOtherReplica_ExactlyOnce(string transport)
    {
        await _app.ResourceNotifications.WaitForResourceHealthyAsync(transport).DefaultTimeout();
        await _app.ResourceNotifications.WaitForResourceHealthyAsync($"{transport}-1").DefaultTimeout();
        var client = Client(transport);
        var before = await client.StartAsync(Address(transport, 0), "Tell me a long story", chunks: 5);
        Assert.DoesNotContain(before.Events, e => e.Kind is "complete" or "error");

        await _app.KillReplicaAsync(transport).DefaultTimeout();
        var after = await client.ResumeAsync(Address(transport, 1), before.ReplyId, before.Events[^1].Position, before.Epoch);

        Assert.Equal((true, (string?)null, before.Epoch), (after.Recovered, after.Reason, after.Epoch));
        var events = before.Events.Concat(after.Events).ToList();
        // Every position once, in order: nothing lost, nothing twice.
        Assert.Equal(Enumerable.Range((int)events[0].Position, events.Count).Select(p => (long)p), events.Select(e => e.Position));
        Assert.Equal("complete", events[^1].Kind);
        var text = string.Concat(events.Where(e => e.Kind == "chunk").Select(e => e.Text));
        Assert.Equal(graph.ReplyTokens, text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);

        // Stored once, whole.
        var history = await graph.HistoryAsync(before.SessionId);
        Assert.Equal(["user", "model"], history.Messages.Select(m => m.Role));
        Assert.Equal(text, history.Messages[1].Text);
        Assert.All(history.Messages, m => Assert.Equal(before.ReplyId, m.TurnId));

        await _app.ResourceNotifications.WaitForResourceHealthyAsync(transport).DefaultTimeout();
    }

    [Fact]
    public async Task OneReply_StartedOverSse_ContinuedOverWebSocket_FinishedOverGrpc_ThroughTheGateway()
    {
        var sse = await Client("sse").StartAsync(Gateway("sse"), "One reply, three transports", chunks: 3);
        var webSocket = await Client("websocket").ResumeAsync(Gateway("websocket"), sse.ReplyId, sse.Events[^1].Position, sse.Epoch, stopAfterChunks: 3);
        var grpc = await Client("grpc").ResumeAsync(Gateway("grpc"), sse.ReplyId, webSocket.Events[^1].Position, webSocket.Epoch);

        Assert.True(webSocket.Recovered);
        Assert.True(grpc.Recovered);
        Assert.Equal(sse.Epoch, webSocket.Epoch);
        Assert.Equal(sse.Epoch, grpc.Epoch);
        Assert.Equal(sse.SessionId, grpc.SessionId);
        var events = sse.Events.Concat(webSocket.Events).Concat(grpc.Events).ToList();
        Assert.Equal(Enumerable.Range((int)events[0].Position, events.Count).Select(p => (long)p), events.Select(e => e.Position));
        Assert.Equal("complete", events[^1].Kind);
        Assert.Equal(grpc.FullText, string.Concat(events.Where(e => e.Kind == "chunk").Select(e => e.Text)));
    }

    [Fact]
    public async Task ResumeWithAStaleEpoch_IsAnsweredNotRecoveredEpochChanged_OnEveryTransport()
    {
        var reply = await Client("websocket").StartAsync(Gateway("websocket"), "Which buffer is this?", chunks: int.MaxValue);

        foreach (var transport in new[] { "sse", "websocket", "grpc" })
        {
            var answer = await Client(transport).ResumeAsync(Gateway(transport), reply.ReplyId, 6, StaleEpoch);

            Assert.Equal((false, "epoch_changed", reply.Epoch), (answer.Recovered, answer.Reason, answer.Epoch));
            // The position meant nothing in this buffer: the whole reply follows.
            Assert.Equal(reply.Events.Where(e => e.Kind == "chunk").Select(e => (e.Position, e.Text)),
                answer.Events.Where(e => e.Kind == "chunk").Select(e => (e.Position, e.Text)));
        }
    }

    [Fact]
    public async Task ResumeAfterTheBufferExpired_IsAnsweredNotRecoveredExpired_Promptly_OnEveryTransport()
    {
        var reply = await Client("grpc").StartAsync(Gateway("grpc"), "Forget me soon", chunks: int.MaxValue);
        await graph.WaitUntilExpiredAsync(reply.ReplyId);

        foreach (var transport in new[] { "sse", "websocket", "grpc" })
        {
            var asked = Stopwatch.GetTimestamp();
            var answer = await Client(transport).ResumeAsync(Gateway(transport), reply.ReplyId, 4, reply.Epoch);

            Assert.Equal((false, "expired"), (answer.Recovered, answer.Reason));
            Assert.Empty(answer.Events);
            Assert.True(Stopwatch.GetElapsedTime(asked) < TimeSpan.FromSeconds(5), $"{transport} took {Stopwatch.GetElapsedTime(asked)}");
        }
    }

    private Uri Address(string transport, int replica) => _app.GetEndpoint(replica == 0 ? transport : $"{transport}-{replica}", "http");

    private Uri Gateway(string transport) => transport switch
    {
        "grpc" => _app.GetEndpoint("gateway", "http2"),
        _ => new Uri(_app.GetEndpoint("gateway", "http"), $"/{transport}/"),
    };

    private static IResumeClient Client(string transport) => transport switch
    {
        "sse" => new SseClient(),
        "websocket" => new WebSocketClient(),
        _ => new GrpcClient(),
    };

    /// <summary>One event of a reply as any transport shows it: its position, kind and text.</summary>
    public sealed record ReplyEvent(long Position, string Kind, string Text);

    /// <summary>What one connection read of a reply; for a resume, its answer first.</summary>
    public sealed record ReplyPart(string ReplyId, string SessionId, string Epoch, List<ReplyEvent> Events, string FullText = "",
        bool Recovered = true, string? Reason = null);

    /// <summary>A client of one transport: start a reply and read some chunks, or resume one and read on.</summary>
    private interface IResumeClient
    {
        Task<ReplyPart> StartAsync(Uri address, string message, int chunks);

        Task<ReplyPart> ResumeAsync(Uri address, string replyId, long lastPosition, string epoch, int stopAfterChunks = int.MaxValue);
    }

    private sealed class SseClient : IResumeClient
    {
        public async Task<ReplyPart> StartAsync(Uri address, string message, int chunks)
        {
            using var http = new HttpClient { BaseAddress = address };
            using var accepted = await http.PostAsync("chat/turns", HttpStreams.PostJson("", new { message }).Content).DefaultTimeout();
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            var turn = await accepted.ReadJsonObjectAsync();
            var (part, _) = await ReadAsync(http, turn.Str("turn_id")!, null, chunks);
            return part with { SessionId = turn.Str("session_id")! };
        }

        public async Task<ReplyPart> ResumeAsync(Uri address, string replyId, long lastPosition, string epoch, int stopAfterChunks = int.MaxValue)
        {
            using var http = new HttpClient { BaseAddress = address };
            var (part, expired) = await ReadAsync(http, replyId, $"{replyId}:{lastPosition}@{epoch}", stopAfterChunks);
            return expired ? new ReplyPart(replyId, "", "", [], Recovered: false, Reason: "expired") : part;
        }

        private static async Task<(ReplyPart Part, bool Expired)> ReadAsync(HttpClient http, string turnId, string? lastEventId, int stopAfterChunks)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"chat/turns/{turnId}/events");
            if (lastEventId is not null)
            {
                request.Headers.Add("Last-Event-ID", lastEventId);
            }

            using var response = await http.SendStreamingAsync(request).DefaultTimeout();
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                var problem = await response.ReadJsonObjectAsync();
                Assert.False((bool)problem["recovered"]!);
                Assert.Equal("expired", problem.Str("reason"));
                return (null!, true);
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var chunks = 0;
            var frames = await response.ReadSseAsync(Stopwatch.GetTimestamp(),
                f => f.Event is "complete" or "error" || (f.Event == "chunk" && f.Json.Str("text") is { Length: > 0 } && ++chunks >= stopAfterChunks));
            var resume = frames.FirstOrDefault(f => f.Event == "resume")?.Json;
            var events = new List<ReplyEvent>();
            var epoch = "";
            foreach (var frame in frames.Where(f => f.Id is not null && f.Event is "chunk" or "complete" or "error"))
            {
                // <turn>:<position>[.<frame>]@<epoch>; the empty final chunk (".1") shares the completion's position.
                var id = frame.Id!;
                epoch = id[(id.LastIndexOf('@') + 1)..];
                var position = id[(id.LastIndexOf(':') + 1)..id.LastIndexOf('@')];
                if (position.Contains('.', StringComparison.Ordinal))
                {
                    continue;
                }

                events.Add(new ReplyEvent(long.Parse(position, System.Globalization.CultureInfo.InvariantCulture), frame.Event!, frame.Json.Str("text") ?? ""));
            }

            return (new ReplyPart(turnId, frames.FirstOrDefault(f => f.Event == "session_info")?.Json.Str("session_id") ?? "", resume?.Str("epoch") ?? epoch, events,
                Recovered: resume is null || (bool)resume["recovered"]!, Reason: resume?.Str("reason")), false);
        }
    }

    private sealed class WebSocketClient : IResumeClient
    {
        public async Task<ReplyPart> StartAsync(Uri address, string message, int chunks)
        {
            await using var socket = await ConnectAsync(address);
            await socket.SendAsync(new { type = "chat", message });
            var part = await ReadAsync(socket, chunks);
            socket.Socket.Abort(); // the connection drops; the reply runs on
            return part;
        }

        public async Task<ReplyPart> ResumeAsync(Uri address, string replyId, long lastPosition, string epoch, int stopAfterChunks = int.MaxValue)
        {
            await using var socket = await ConnectAsync(address);
            await socket.SendAsync(new { type = "resume", reply_id = replyId, last_position = lastPosition, epoch });
            var part = await ReadAsync(socket, stopAfterChunks);
            socket.Socket.Abort();
            return part;
        }

        private static async Task<ChatSocket> ConnectAsync(Uri address)
        {
            var socket = await ChatSocket.ConnectAsync(new Uri($"ws://{address.Authority}{address.AbsolutePath.TrimEnd('/')}/ws"));
            Assert.Equal("connected", (await socket.ReceiveMessageAsync()).Type());
            return socket;
        }

        private static async Task<ReplyPart> ReadAsync(ChatSocket socket, int stopAfterChunks)
        {
            string replyId = "", sessionId = "", epoch = "", fullText = "";
            bool recovered = true;
            string? reason = null;
            var events = new List<ReplyEvent>();
            var chunks = 0;
            while (chunks < stopAfterChunks)
            {
                var m = await socket.ReceiveMessageAsync();
                switch (m.Type())
                {
                    case "response_start":
                        (replyId, sessionId, epoch) = (m.Str("reply_id"), m.Str("session_id"), m.Str("epoch"));
                        recovered = !m.TryGetProperty("recovered", out var r) || r.GetBoolean();
                        reason = m.TryGetProperty("reason", out var why) ? why.GetString() : null;
                        continue;
                    case "chunk":
                        chunks++;
                        events.Add(new ReplyEvent(m.GetProperty("position").GetInt64(), "chunk", m.Str("text")));
                        continue;
                    case "response_complete":
                        events.Add(new ReplyEvent(m.GetProperty("position").GetInt64(), "complete", ""));
                        fullText = m.Str("full_response");
                        break;
                    case "error" when m.TryGetProperty("reason", out var expired):
                        return new ReplyPart(m.Str("reply_id"), "", "", events, Recovered: m.GetProperty("recovered").GetBoolean(), Reason: expired.GetString());
                    case "error" or "response_cancelled":
                        events.Add(new ReplyEvent(m.GetProperty("position").GetInt64(), "error", ""));
                        break;
                    default:
                        continue;
                }

                break;
            }

            return new ReplyPart(replyId, sessionId, epoch, events, fullText, recovered, reason);
        }
    }

    private sealed class GrpcClient : IResumeClient
    {
        // Replies survive a dropped stream only when asked (docs/bidi-transports.md).
        private static readonly Metadata Resumable = new() { { "chat-resumable", "true" } };

        public async Task<ReplyPart> StartAsync(Uri address, string message, int chunks)
        {
            using var channel = GrpcChannel.ForAddress(address);
            var client = new ChatService.ChatServiceClient(channel);
            var sessionId = (await client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest()).ResponseAsync.DefaultTimeout()).SessionId;
            using var drop = new CancellationTokenSource();
            using var call = client.Chat(Resumable, cancellationToken: drop.Token);
            await call.RequestStream.WriteAsync(new ChatRequest { Type = RequestType.Message, SessionId = sessionId, Message = message }).DefaultTimeout();
            var part = await ReadAsync(call, chunks);
            await drop.CancelAsync();
            return part;
        }

        public async Task<ReplyPart> ResumeAsync(Uri address, string replyId, long lastPosition, string epoch, int stopAfterChunks = int.MaxValue)
        {
            using var channel = GrpcChannel.ForAddress(address);
            using var drop = new CancellationTokenSource();
            using var call = new ChatService.ChatServiceClient(channel).Chat(Resumable, cancellationToken: drop.Token);
            await call.RequestStream.WriteAsync(new ChatRequest { Type = RequestType.Resume, ReplyId = replyId, LastPosition = lastPosition, Epoch = epoch }).DefaultTimeout();
            var part = await ReadAsync(call, stopAfterChunks);
            await drop.CancelAsync();
            return part;
        }

        private static async Task<ReplyPart> ReadAsync(AsyncDuplexStreamingCall<ChatRequest, ChatResponse> call, int stopAfterChunks)
        {
            string replyId = "", sessionId = "", epoch = "", fullText = "";
            bool recovered = true;
            string? reason = null;
            var events = new List<ReplyEvent>();
            var chunks = 0;
            while (chunks < stopAfterChunks && await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
            {
                var r = call.ResponseStream.Current;
                switch (r.Type)
                {
                    case ResponseType.ResponseStart:
                        (replyId, sessionId, epoch) = (r.ReplyId, r.SessionId, r.Epoch);
                        recovered = !r.HasRecovered || r.Recovered;
                        reason = r.ResumeReason.Length > 0 ? r.ResumeReason : null;
                        continue;
                    case ResponseType.Chunk:
                        chunks++;
                        events.Add(new ReplyEvent(r.Position, "chunk", r.ChunkText));
                        continue;
                    case ResponseType.ResponseComplete:
                        events.Add(new ReplyEvent(r.Position, "complete", ""));
                        fullText = r.FullResponse;
                        break;
                    case ResponseType.Error when r.HasRecovered:
                        return new ReplyPart(r.ReplyId, "", "", events, Recovered: r.Recovered, Reason: r.ResumeReason);
                    case ResponseType.Error:
                        events.Add(new ReplyEvent(r.Position, "error", ""));
                        break;
                    default:
                        continue;
                }

                break;
            }

            return new ReplyPart(replyId, sessionId, epoch, events, fullText, recovered, reason);
        }
    }

    /// <summary>
    /// The AppHost's graph with two replicas of each streaming transport, an offline model paced so a reply streams for
    /// about three seconds (still running when its replica is killed after five chunks), and a resume buffer that
    /// expires three seconds after a reply's last event.
    /// </summary>
    public sealed class Graph : IAsyncLifetime
    {
        public int ReplyTokens => 60;

        public DistributedApplication App { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var builder = await ChatAppHost.CreateAsync(["--replicas", "sse=2,websocket=2,grpc=2"], new Dictionary<string, string?>
            {
                ["Llm:Provider"] = "offline",
                ["Llm:Offline:TimeToFirstTokenMs"] = "0",
                ["Llm:Offline:InterTokenDelayMs"] = "50",
                ["Llm:Offline:ReplyTokens"] = ReplyTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Llm:Resume:BufferTtl"] = "00:00:03",
            });
            App = await builder.StartHealthyAsync(TimeSpan.FromSeconds(120));
        }

        public async Task DisposeAsync() => await App.DisposeAsync();

        public async Task<GetHistoryResponse> HistoryAsync(string sessionId)
        {
            using var channel = await App.CreateGrpcChannelAsync("llm");
            return await new LlmService.LlmServiceClient(channel).GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
        }

        /// <summary>Waits (bounded) until the LLM service no longer has the reply's buffer: the event the test needs.</summary>
        public async Task WaitUntilExpiredAsync(string replyId)
        {
            using var channel = await App.CreateGrpcChannelAsync("llm");
            var llm = new LlmService.LlmServiceClient(channel);
            var deadline = Infrastructure.TaskExtensions.DefaultTimeoutToken();
            while (true)
            {
                try
                {
                    using var call = llm.ResumeTurn(new ResumeTurnRequest { TurnId = replyId, ReportStatus = true }, cancellationToken: deadline);
                    await call.ResponseStream.MoveNext(deadline);
                }
                catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound)
                {
                    return;
                }

                await Task.Delay(200, deadline);
            }
        }
    }
}
