using System.Net;
using System.Net.WebSockets;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace Chat.Tests.Reliability;

/// <summary>
/// The gateway's per-caller stream cap in the whole system: carol's key may hold two streams, and while two WebSockets
/// are open her SSE, NDJSON, WebSocket and gRPC streams are refused before any transport sees them.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class StreamCapSystemTests(ReliabilityFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task StreamsOverTheCap_AreRefusedInEachProtocol_NothingStoredChanges_AndAnEndedStreamFreesItsPlace()
    {
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("gateway").DefaultTimeout();
        var gatewayHttp = _app.GetEndpoint("gateway", "http");
        var socketUri = new Uri($"ws://{gatewayHttp.Authority}/websocket/ws?api_key={ReliabilityFixture.CarolKey}");
        await using var first = await ConnectAsync(socketUri);
        await using var second = await ConnectAsync(socketUri);
        var before = await StatsAsync();

        using var carol = fixture.Gateway(ReliabilityFixture.CarolKey);
        using (var sse = await carol.SendStreamingAsync(HttpStreams.PostJson("/sse/chat/stream", new { message = "one too many" })).DefaultTimeout())
        {
            await sse.AssertProblemAsync(429);
            Assert.Equal(TimeSpan.FromSeconds(5), sse.Headers.RetryAfter?.Delta);
        }

        using (var ndjson = await carol.SendStreamingAsync(HttpStreams.PostJson("/streaming/chat/stream", new { message = "one too many" })).DefaultTimeout())
        {
            await ndjson.AssertProblemAsync(429);
        }

        using (var third = new ClientWebSocket())
        {
            third.Options.CollectHttpResponseDetails = true;
            await Assert.ThrowsAsync<WebSocketException>(() => third.ConnectAsync(socketUri, CancellationToken.None).DefaultTimeout());
            Assert.Equal(HttpStatusCode.TooManyRequests, third.HttpStatusCode);
        }

        using var channel = GrpcChannel.ForAddress(_app.GetEndpoint("gateway", "http2"));
        var grpc = new ChatService.ChatServiceClient(channel);
        using (var call = grpc.SendMessage(new Chat.Contracts.Public.ChatRequest { Message = "one too many" }, new Metadata { { "x-api-key", ReliabilityFixture.CarolKey } }))
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
            Assert.Equal("5", error.Trailers.GetValue("retry-after"));
        }

        var after = await StatsAsync();
        Assert.Equal(before.SessionsCreated, after.SessionsCreated);
        Assert.Equal(before.TotalTurns, after.TotalTurns);

        // Bob has the default cap: carol's streams take nothing from him.
        await using (var bob = await ConnectAsync(new Uri($"ws://{gatewayHttp.Authority}/websocket/ws?api_key={ReliabilityFixture.BobKey}")))
        {
        }

        // Carol closes one socket; a new stream is admitted and carries a whole reply.
        await first.DisposeAsync();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        HttpResponseMessage admitted;
        while ((admitted = await carol.SendStreamingAsync(HttpStreams.PostJson("/sse/chat/stream", new { message = "my turn now" })).DefaultTimeout())
            .StatusCode == HttpStatusCode.TooManyRequests && DateTime.UtcNow < deadline)
        {
            admitted.Dispose();
            await Task.Delay(50);
        }

        using (admitted)
        {
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
            var frames = await admitted.ReadSseAsync(started);
            Assert.Equal("complete", frames[^1].Event);
        }

        // The refusals are logged with the caller's principal, never its key.
        var logs = await fixture.AllConsoleLogsAsync();
        Assert.Contains("stream to /sse/chat/stream for principal:carol", logs, StringComparison.Ordinal);
        Assert.DoesNotContain(ReliabilityFixture.CarolKey, logs, StringComparison.Ordinal);
    }

    private static async Task<ChatSocket> ConnectAsync(Uri uri)
    {
        var socket = await ChatSocket.ConnectAsync(uri);
        Assert.Equal("connected", (await socket.ReceiveMessageAsync()).Type());
        return socket;
    }

    private async Task<ServerStats> StatsAsync()
    {
        var (llm, channel) = await fixture.LlmAsync();
        using (channel)
        {
            return await llm.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
        }
    }
}
