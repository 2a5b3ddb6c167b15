using System.Net.Sockets;
using System.Text;
using Chat.Contracts.Llm.V1;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Chat.Tests.Reliability;

/// <summary>Refused requests through the real gateway and transports; none of them changes anything stored.</summary>
[Collection(ReliabilityCollection.Name)]
public sealed class BadInputTests(ReliabilityFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    public static TheoryData<string, string, string, string?, int> HttpCases => new()
    {
        // transport prefix, path, content type, body, expected status
        { "/rest", "/chat", "application/json", """{"message":""}""", 400 },
        { "/rest", "/chat", "application/json", """{"message":"   \n\t "}""", 400 },
        { "/rest", "/chat", "application/json", $$"""{"message":"{{new string('x', 32_001)}}"}""", 400 },
        { "/rest", "/chat", "application/json", """{"message":""", 400 },
        { "/rest", "/chat", "application/json", """[1,2,3]""", 400 },
        { "/rest", "/chat", "text/plain", "hello", 415 },
        { "/rest", "/sessions/not-a-guid", "", null, 404 },
        { "/rest", "/sessions/00000000-0000-0000-0000-000000000001", "", null, 404 },
        { "/streaming", "/chat/stream", "application/json", """{"message":""}""", 400 },
        { "/streaming", "/chat/stream", "application/json", """{"message":"   "}""", 400 },
        { "/streaming", "/chat/stream", "application/json", """{"mess""", 400 },
        { "/streaming", "/chat/stream", "text/plain", "hello", 415 },
        { "/streaming", "/sessions/not-a-guid", "", null, 404 },
        { "/sse", "/chat/stream", "application/json", """{"message":""}""", 400 },
        { "/sse", "/chat/stream", "application/json", $$"""{"message":"{{new string('y', 32_001)}}"}""", 400 },
        { "/sse", "/chat/turns", "application/json", "{", 400 },
        { "/sse", "/chat/turns/not-a-turn/events", "", null, 400 },
        { "/sse", "/chat/turns/00000000-0000-0000-0000-000000000002/events", "", null, 404 },
        { "/sse", "/sessions/not-a-guid", "", null, 404 },
    };

    [Theory]
    [MemberData(nameof(HttpCases))]
    public async Task BadHttpRequest_IsRefusedWithItsStatus_AndNothingStoredChanges(string prefix, string path, string contentType, string? body, int status)
    {
        using var gateway = fixture.Gateway(ReliabilityFixture.AliceKey);
        var before = await StatsAsync();
        using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, prefix + path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new(contentType) { CharSet = "utf-8" };
        }

        using var response = await gateway.SendAsync(request).DefaultTimeout();
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);

        var after = await StatsAsync();
        Assert.Equal(before.SessionsCreated, after.SessionsCreated);
        Assert.Equal(before.TotalTurns, after.TotalTurns);
    }

    [Fact]
    public async Task HeaderFlood_IsRefusedWith431()
    {
        var headers = string.Concat(Enumerable.Range(0, 150).Select(i => $"X-Flood-{i}: {new string('f', 100)}\r\n"));
        var answer = await RawAsync($"GET /rest/sessions HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: {ReliabilityFixture.AliceKey}\r\n{headers}\r\n");
        Assert.StartsWith("HTTP/1.1 431", answer);

        var huge = await RawAsync($"GET /rest/sessions HTTP/1.1\r\nHost: localhost\r\nX-Big: {new string('b', 40_000)}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431", huge);
    }

    public static TheoryData<string> SmugglingAttempts => new()
    {
        // CL.TE: a proxy that trusts Content-Length would forward "0\r\n\r\nPOST /rest/chat…" as a second request.
        "POST /rest/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4\r\nContent-Length: 60\r\n\r\n{}\r\n",
        "POST /rest/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        "POST /rest/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        "POST /rest/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{\"message\":\"smuggled\"}\r\n0\r\n\r\n",
    };

    [Theory]
    [MemberData(nameof(SmugglingAttempts))]
    public async Task SmugglingAttempt_OverARawSocket_Is400_AndNothingReachesTheBackend(string attempt)
    {
        var before = await StatsAsync();
        var withKey = attempt.Replace("Host: localhost\r\n", $"Host: localhost\r\nX-Api-Key: {ReliabilityFixture.AliceKey}\r\n", StringComparison.Ordinal);
        var answer = await RawAsync(withKey);
        Assert.StartsWith("HTTP/1.1 400", answer);
        Assert.DoesNotContain("X-Served-By", answer, StringComparison.OrdinalIgnoreCase);
        var after = await StatsAsync();
        Assert.Equal(before.TotalTurns, after.TotalTurns);
        Assert.Equal(before.SessionsCreated, after.SessionsCreated);
    }

    [Fact]
    public async Task ConflictingContentLengthAndTransferEncoding_IsNeverReadTwoWays()
    {
        // RFC 9112 §6.3: Transfer-Encoding wins and the connection is closed after the response, so the bytes a
        // Content-Length-trusting hop would see as a second request are never parsed as one.
        var before = await StatsAsync();
        var smuggled = "GET /rest/sessions HTTP/1.1\r\nHost: localhost\r\n\r\n";
        var answer = await RawAsync(
            $"POST /rest/chat HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: {ReliabilityFixture.AliceKey}\r\nContent-Type: application/json\r\n"
            + $"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}");
        Assert.Matches("^HTTP/1.1 4\\d\\d", answer);
        Assert.Equal(1, CountOccurrences(answer, "HTTP/1.1 "));
        var after = await StatsAsync();
        Assert.Equal(before.TotalTurns, after.TotalTurns);
    }

    [Fact]
    public async Task SlowLorisHeaders_AreCutOffByTheHeadersTimeout()
    {
        using var client = new TcpClient();
        var gateway = _app.GetEndpoint("gateway", "http");
        await client.ConnectAsync(gateway.Host, gateway.Port).DefaultTimeout();
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /rest/sessions HTTP/1.1\r\nHost: localhost\r\n")).AsTask().DefaultTimeout();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var buffer = new byte[4096];
        var read = 0;
        try
        {
            // Never finish the headers: Kestrel's RequestHeadersTimeout (10 s) closes the connection.
            read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (IOException)
        {
        }

        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        Assert.InRange(elapsed, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(16));
        var answer = Encoding.ASCII.GetString(buffer, 0, read);
        Assert.True(read == 0 || answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), answer);
    }

    private async Task<ServerStats> StatsAsync()
    {
        var (llm, channel) = await fixture.LlmAsync();
        using (channel)
        {
            return await llm.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
        }
    }

    private async Task<string> RawAsync(string request)
    {
        var gateway = _app.GetEndpoint("gateway", "http");
        using var client = new TcpClient();
        await client.ConnectAsync(gateway.Host, gateway.Port).DefaultTimeout();
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request)).AsTask().DefaultTimeout();
        var answer = new StringBuilder();
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5))) > 0)
            {
                answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (Exception exception) when (exception is TimeoutException or IOException)
        {
            // A kept-alive connection: what came so far is the answer.
        }

        return answer.ToString();
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
