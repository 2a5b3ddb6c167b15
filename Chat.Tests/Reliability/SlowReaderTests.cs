using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Grpc.Core;
using Grpc.Net.Client;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Xunit.Abstractions;

namespace Chat.Tests.Reliability;

/// <summary>
/// Clients that never read a stream, through the real gateway: the transport drops the stream once one write stays
/// pending for <c>Transport:StreamWriteTimeout</c>, counts it (/stats <c>streams_dropped</c>) and logs it once; the
/// process stays healthy, the next client gets a whole reply, and the stored history holds the reply once in full
/// (detached turns) or not at all (a turn that stops with its caller).
/// </summary>
[Collection(SlowReaderCollection.Name)]
public sealed class SlowReaderTests(SlowReaderFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private const string SlowReaderLogLine = "(slow reader)";

    /// <summary>Drop time bound: buffers in between fill in a few seconds, then 1–1.25 timeouts.</summary>
    private static readonly TimeSpan DropWithin = TimeSpan.FromSeconds(25);

    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task SseClientThatNeverReads_IsDroppedAndCounted_TheDetachedReplyIsStoredOnceInFull_AndTheNextClientIsServed()
    {
        using var gateway = fixture.Gateway();
        var sessionId = await NewSessionAsync(gateway);
        var droppedBefore = await StreamsDroppedAsync(gateway, "/sse");
        const string text = "sse slow reader marker 4b1d";

        var started = Stopwatch.GetTimestamp();
        using var client = await SendAndNeverReadAsync(
            "/sse/chat/stream", JsonSerializer.Serialize(new { message = text, session_id = sessionId }));
        await WaitForDropAsync(gateway, "/sse", droppedBefore);
        Assert.InRange(Stopwatch.GetElapsedTime(started), SlowReaderFixture.StreamWriteTimeout, DropWithin);
        Assert.True(await ClosedByServerAsync(client), "the gateway kept the never-reading client's connection open");

        await AssertLoggedOnceAsync("sse", text);

        // Detached: the turn ran on and was stored once, in full.
        var history = await WaitForHistoryAsync(sessionId, count: 2);
        Assert.Equal(["user", "model"], history.Messages.Select(m => m.Role));
        Assert.Equal(text, history.Messages[0].Text);
        Assert.Equal(SlowReaderFixture.ReplyTokens, Words(history.Messages[1].Text));

        // The replica is healthy and the next client on the same session reads a whole reply.
        using var health = await gateway.GetAsync("/sse/health").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var response = await gateway.SendStreamingAsync(HttpStreams.PostJson("/sse/chat/stream", new { message = "again", session_id = sessionId })).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var frames = await response.ReadSseAsync(Stopwatch.GetTimestamp(), frame => frame.Event is "complete" or "error").DefaultTimeout();
        Assert.Equal("complete", frames[^1].Event);
        var reply = string.Concat(frames.Where(f => f.Event == "chunk").Select(f => (string?)f.Json["text"] ?? ""));
        Assert.Equal(SlowReaderFixture.ReplyTokens, Words(reply));
        Assert.Equal(4, (await fixture.HistoryAsync(sessionId)).Messages.Count);
    }

    [Fact]
    public async Task NdjsonClientThatNeverReads_IsDropped_TheTurnEnds_AndItsReplyIsStoredWholeOrNotAtAll()
    {
        using var gateway = fixture.Gateway();
        var sessionId = await NewSessionAsync(gateway);
        var droppedBefore = await StreamsDroppedAsync(gateway, "/streaming");
        var statsBefore = await fixture.StatsAsync();

        var started = Stopwatch.GetTimestamp();
        using var client = await SendAndNeverReadAsync(
            "/streaming/chat/stream", JsonSerializer.Serialize(new { message = "ndjson slow reader", session_id = sessionId }));
        await WaitForDropAsync(gateway, "/streaming", droppedBefore);
        Assert.InRange(Stopwatch.GetElapsedTime(started), SlowReaderFixture.StreamWriteTimeout, DropWithin);
        Assert.True(await ClosedByServerAsync(client), "the gateway kept the never-reading client's connection open");
        await AssertLoggedOnceAsync("streaming", "ndjson slow reader");

        // Not detached: the turn stops with the dropped request, unless the LLM service had already finished it (an
        // unpaced model outruns the client's buffers). Either way the turn has ended (counted, its lock released) and
        // the history holds the reply in full or not at all (the failure rule: the user message alone).
        var waitStarted = Stopwatch.GetTimestamp();
        ServerStats stats;
        do
        {
            await Task.Delay(100);
            stats = await fixture.StatsAsync();
        }
        while (stats.TotalTurns == statsBefore.TotalTurns && Stopwatch.GetElapsedTime(waitStarted) < TimeSpan.FromSeconds(15));

        Assert.Equal(statsBefore.TotalTurns + 1, stats.TotalTurns);
        var history = await fixture.HistoryAsync(sessionId);
        var completedBeforeTheDrop = stats.SucceededTurns == statsBefore.SucceededTurns + 1;
        Assert.Equal(completedBeforeTheDrop ? ["user", "model"] : ["user"], history.Messages.Select(m => m.Role));
        if (completedBeforeTheDrop)
        {
            Assert.Equal(SlowReaderFixture.ReplyTokens, Words(history.Messages[1].Text));
        }

        using var response = await gateway.SendStreamingAsync(HttpStreams.PostJson("/streaming/chat/stream", new { message = "again", session_id = sessionId })).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var lines = await response.ReadNdjsonAsync(Stopwatch.GetTimestamp(), line => line.Type is "complete" or "error").DefaultTimeout();
        Assert.Equal("complete", lines[^1].Type);
        Assert.Equal(SlowReaderFixture.ReplyTokens, Words(string.Concat(lines.Where(l => l.Type == "chunk").Select(l => (string?)l.Json["text"] ?? ""))));
        Assert.Equal(history.Messages.Count + 2, (await fixture.HistoryAsync(sessionId)).Messages.Count);
    }

    [Fact]
    public async Task WebSocketClientThatNeverReads_IsDroppedAndCounted_TheReplyIsStoredOnceInFull_AndTheNextClientIsServed()
    {
        using var gateway = fixture.Gateway();
        var sessionId = await NewSessionAsync(gateway);
        var droppedBefore = await StreamsDroppedAsync(gateway, "/websocket");
        var address = new Uri($"ws://{_app.GetEndpoint("gateway", "http").Authority}/websocket/ws");
        const string text = "websocket slow reader marker 9e2a";

        var started = Stopwatch.GetTimestamp();
        await using (var slow = await ChatSocket.ConnectAsync(address, receiveBufferBytes: 1024))
        {
            Assert.Equal("connected", (await slow.ReceiveMessageAsync()).Type());
            await slow.SendAsync(new { type = "chat", message = text, session_id = sessionId });
            await WaitForDropAsync(gateway, "/websocket", droppedBefore);
            Assert.InRange(Stopwatch.GetElapsedTime(started), TimeSpan.Zero, DropWithin);

            // What was buffered on the way still arrives, then the connection ends without a reply's end.
            var closed = false;
            try
            {
                while (await slow.ReceiveAsync(TimeSpan.FromSeconds(10)) is { } message)
                {
                    Assert.NotEqual("response_complete", message.Type());
                }

                closed = true;
            }
            catch (WebSocketException)
            {
                closed = true;
            }

            Assert.True(closed);
        }

        await AssertLoggedOnceAsync("websocket", text, orQueueOverflow: true);

        var history = await WaitForHistoryAsync(sessionId, count: 2);
        Assert.Equal(["user", "model"], history.Messages.Select(m => m.Role));
        Assert.Equal(SlowReaderFixture.ReplyTokens, Words(history.Messages[1].Text));

        await using var normal = await ChatSocket.ConnectAsync(address);
        Assert.Equal("connected", (await normal.ReceiveMessageAsync()).Type());
        await normal.SendAsync(new { type = "chat", message = "again", session_id = sessionId });
        var messages = await normal.ReceiveUntilAsync("response_complete");
        Assert.Equal(SlowReaderFixture.ReplyTokens, messages.Count(m => m.Type() == "chunk"));
        Assert.Equal(4, (await fixture.HistoryAsync(sessionId)).Messages.Count);
    }

    [Fact]
    public async Task GrpcClientThatNeverReads_IsDroppedAndLogged_TheReplyIsStoredWholeOrNotAtAll_AndTheNextCallIsServed()
    {
        using var gateway = fixture.Gateway();
        var sessionId = await NewSessionAsync(gateway);
        const string text = "grpc slow reader marker 4c1d";
        var http2 = _app.GetEndpoint("gateway", "http2");

        // The smallest HTTP/2 stream window the client allows, and no reads: the gateway's writes to it stall, then
        // its reads from Chat.Grpc, then Chat.Grpc's writes, which the watchdog times out.
        using (var slowChannel = GrpcChannel.ForAddress(http2, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { InitialHttp2StreamWindowSize = 65_535, UseProxy = false },
            MaxReceiveMessageSize = null,
        }))
        {
            var slow = new ChatService.ChatServiceClient(slowChannel);
            using var call = slow.Chat();
            var started = Stopwatch.GetTimestamp();
            await call.RequestStream.WriteAsync(new ChatRequest { Type = ChatRequest.Types.MessageType.Message, Message = text, SessionId = sessionId }).DefaultTimeout();
            while (!(await _app.GetConsoleLogAsync("grpc", 10_000)).Contains(SlowReaderLogLine, StringComparison.Ordinal))
            {
                if (Stopwatch.GetElapsedTime(started) >= DropWithin)
                {
                    Assert.Fail($"grpc did not drop the client that never reads within {DropWithin}. Log:\n{await InterestingAsync("grpc")}");
                }

                await Task.Delay(200);
            }

            // What was buffered on the way still arrives, then the call fails instead of completing the reply.
            var completed = false;
            await Assert.ThrowsAsync<RpcException>(async () =>
            {
                using var read = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                while (await call.ResponseStream.MoveNext(read.Token))
                {
                    completed |= call.ResponseStream.Current.Type == ChatResponse.Types.ResponseType.ResponseComplete;
                }
            });
            Assert.False(completed);
        }

        await AssertLoggedOnceAsync("grpc", text);

        // The turn stopped with its caller or finished first: its reply is stored whole or not at all.
        var history = await WaitForHistoryAsync(sessionId, count: 1);
        Assert.Equal("user", history.Messages[0].Role);
        if (history.Messages.Count == 2)
        {
            Assert.Equal(SlowReaderFixture.ReplyTokens, Words(history.Messages[1].Text));
        }

        using var channel = GrpcChannel.ForAddress(http2, new GrpcChannelOptions { MaxReceiveMessageSize = null });
        using var next = new ChatService.ChatServiceClient(channel).Chat();
        await next.RequestStream.WriteAsync(new ChatRequest { Type = ChatRequest.Types.MessageType.Message, Message = "again", SessionId = sessionId }).DefaultTimeout();
        var chunks = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await next.ResponseStream.MoveNext(timeout.Token))
        {
            var response = next.ResponseStream.Current;
            chunks += response.Type == ChatResponse.Types.ResponseType.Chunk ? 1 : 0;
            if (response.Type == ChatResponse.Types.ResponseType.ResponseComplete)
            {
                break;
            }
        }

        Assert.Equal(SlowReaderFixture.ReplyTokens, chunks);
    }

    /// <summary>A replica's log lines about streams and connections (not the stats polling), for failure messages.</summary>
    private async Task<string> InterestingAsync(string replica)
    {
        var lines = (await _app.GetConsoleLogAsync(replica, 10_000)).Split('\n');
        var kept = new List<string>();
        for (var i = 1; i < lines.Length; i++)
        {
            if (!lines[i].Contains("GetStats", StringComparison.Ordinal) && !lines[i].Contains("/stats", StringComparison.Ordinal)
                && !lines[i - 1].Contains("HttpClient", StringComparison.Ordinal) && !lines[i].Contains("HttpClient", StringComparison.Ordinal))
            {
                kept.Add(lines[i]);
            }
        }

        return string.Join('\n', kept.TakeLast(40));
    }

    private static int Words(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    private static async Task<string> NewSessionAsync(HttpClient gateway)
    {
        using var created = await gateway.PostAsync("/rest/sessions/new", HttpStreams.PostJson("", new { }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        return (await created.ReadJsonObjectAsync()).Str("session_id")!;
    }

    private static async Task<long> StreamsDroppedAsync(HttpClient gateway, string prefix)
    {
        using var stats = await gateway.GetAsync($"{prefix}/stats").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
        return (long)(await stats.ReadJsonObjectAsync())["streams_dropped"]!;
    }

    private async Task WaitForDropAsync(HttpClient gateway, string prefix, long before)
    {
        var started = Stopwatch.GetTimestamp();
        while (await StreamsDroppedAsync(gateway, prefix) == before)
        {
            if (Stopwatch.GetElapsedTime(started) >= DropWithin)
            {
                Assert.Fail($"{prefix} did not drop the client that never reads within {DropWithin}. Transport log:\n"
                    + await InterestingAsync(prefix.TrimStart('/')) + "\nGateway log:\n" + await InterestingAsync("gateway"));
            }

            await Task.Delay(200);
        }
    }

    /// <summary>
    /// A raw HTTP/1.1 client with a tiny receive buffer that sends one request and never reads: the gateway's and the
    /// transport's buffers fill, and the transport's write to it stays pending.
    /// </summary>
    private async Task<TcpClient> SendAndNeverReadAsync(string path, string json)
    {
        var gateway = _app.GetEndpoint("gateway", "http");
        var client = new TcpClient { ReceiveBufferSize = 1024 };
        try
        {
            await client.ConnectAsync(gateway.Host, gateway.Port).DefaultTimeout();
            var body = Encoding.UTF8.GetBytes(json);
            var head = $"POST {path} HTTP/1.1\r\nHost: {gateway.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(head).Concat(body).ToArray()).AsTask().DefaultTimeout();
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Reads what is buffered; true when the server then closed (or reset) the connection.</summary>
    private static async Task<bool> ClosedByServerAsync(TcpClient client)
    {
        var buffer = new byte[64 * 1024];
        var stream = client.GetStream();
        try
        {
            while (await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10)) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>The replica logged the drop once, without the message's content.</summary>
    private async Task AssertLoggedOnceAsync(string replica, string messageText, bool orQueueOverflow = false)
    {
        string log = "";
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(5))
        {
            log = await _app.GetConsoleLogAsync(replica, 10_000);
            if (log.Contains(SlowReaderLogLine, StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(100);
        }

        var lines = log.Split('\n').Where(l => l.Contains(SlowReaderLogLine, StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count >= 1, $"{replica} logged no slow-reader line");
        Assert.True(orQueueOverflow ? lines.Count <= 2 : lines.Count == 1, string.Join('\n', lines));
        Assert.DoesNotContain(messageText, log, StringComparison.Ordinal);
    }

    private async Task<GetHistoryResponse> WaitForHistoryAsync(string sessionId, int count)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var history = await fixture.HistoryAsync(sessionId);
            if (history.Messages.Count >= count || Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(30))
            {
                return history;
            }

            await Task.Delay(200);
        }
    }
}
