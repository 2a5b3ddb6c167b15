using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace Chat.Tests.Gateway;

/// <summary>
/// The gateway's answer, in each protocol's idiom, when it cannot reach a transport (docs/gateway.md, "When a
/// transport cannot be reached"): 503 ProblemDetails with Retry-After for HTTP, REST, NDJSON and SSE; a refused
/// WebSocket upgrade (503, same body); UNAVAILABLE for gRPC and gRPC-Web in a trailers-only response — for a refused
/// connection, for no destination at all, and for destinations all unhealthy. A replica that dies mid-stream: gRPC and
/// gRPC-Web calls end with UNAVAILABLE after the messages already sent; HTTP streams and WebSockets are cut, never
/// ended as if complete.
/// </summary>
[Collection(UnreachableGatewayCollection.Name)]
public sealed class GatewayUnavailableTests(UnreachableGatewayFixture gateway)
{
    private static readonly string RetryAfterSeconds = ((int)UnreachableGatewayFixture.RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static readonly TheoryData<string, string, string> HttpRoutes = new()
    {
        { "POST", "/rest/chat", "rest" },
        { "GET", "/rest/sessions", "rest" },
        { "POST", "/streaming/chat/stream", "streaming" },
        { "POST", "/sse/chat/stream", "sse" },
        { "GET", "/sse/chat/turns/0123/events", "sse" },
    };

    [Theory]
    [MemberData(nameof(HttpRoutes))]
    public async Task Http_WithTheReplicaRefusingConnections_Is503ProblemWithRetryAfter(string method, string path, string service)
    {
        using var client = gateway.CreateKeyedClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new StringContent("{\"message\":\"anyone there?\"}", Encoding.UTF8, "application/json");
        }

        // What a streaming client sends: it still gets a problem, not a stream.
        request.Headers.Accept.ParseAdd(path.Contains("stream", StringComparison.Ordinal) ? "text/event-stream, application/x-ndjson" : "application/json");

        using var response = await client.SendAsync(request).DefaultTimeout();

        var problem = await AssertUnavailableProblemAsync(response);
        Assert.Equal($"The {service} service could not be reached; retry in {RetryAfterSeconds} s.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Http_WithNoDestinationAtAll_Is503Problem_NoHealthyInstance()
    {
        using var client = gateway.CreateKeyedClient();

        using var response = await client.GetAsync("/empty/anything").DefaultTimeout();

        var problem = await AssertUnavailableProblemAsync(response);
        Assert.Equal($"No healthy instance of the empty service is available; retry in {RetryAfterSeconds} s.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Http_WithEveryDestinationUnhealthy_Is503Problem_NoHealthyInstance()
    {
        // Wait for the event (the probes have taken the replica out), not for a guessed time.
        var lookup = gateway.GatewayServices.GetRequiredService<IProxyStateLookup>();
        Assert.True(lookup.TryGetCluster("unhealthy", out var cluster));
        var deadline = DateTime.UtcNow + Infrastructure.TaskExtensions.DefaultTimeoutSpan;
        while (cluster.Destinations.Values.Any(d => d.Health.Active != DestinationHealth.Unhealthy))
        {
            Assert.True(DateTime.UtcNow < deadline, "the unhealthy cluster's replica was never probed unhealthy");
            await Task.Delay(50);
        }

        using var client = gateway.CreateKeyedClient();
        using var response = await client.GetAsync("/unhealthy/chat").DefaultTimeout();

        var problem = await AssertUnavailableProblemAsync(response);
        Assert.StartsWith("No healthy instance of the unhealthy service", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebSocket_UpgradeWithTheReplicaRefusingConnections_IsRefusedWith503_NotUpgraded()
    {
        // A real client: the upgrade fails with the gateway's status and Retry-After.
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        var uri = new Uri($"ws://127.0.0.1:{gateway.Http1Port}/websocket/ws?api_key={UnreachableGatewayFixture.ApiKey}");
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(uri, CancellationToken.None).DefaultTimeout());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, socket.HttpStatusCode);
        Assert.Equal([RetryAfterSeconds], socket.HttpResponseHeaders!["Retry-After"]);

        // On the wire: a plain HTTP answer with a ProblemDetails body saying why, instead of 101.
        var (statusLine, headers, body) = await RawUpgradeAsync("/websocket/ws");
        Assert.Equal("HTTP/1.1 503 Service Unavailable", statusLine);
        Assert.Equal("application/problem+json", headers["Content-Type"]);
        Assert.Equal(RetryAfterSeconds, headers["Retry-After"]);
        Assert.False(headers.ContainsKey("Upgrade"));
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(503, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("Service unavailable", problem.RootElement.GetProperty("title").GetString());
        Assert.Equal($"WebSocket upgrade refused: The websocket service could not be reached; retry in {RetryAfterSeconds} s.",
            problem.RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Grpc_WithTheReplicaRefusingConnections_IsUnavailable_ForUnaryAndStreamingCalls()
    {
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var client = new ChatService.ChatServiceClient(channel);

        var unary = await Assert.ThrowsAsync<RpcException>(() => client.CreateSessionAsync(new CreateSessionRequest(), Keyed()).ResponseAsync.DefaultTimeout());
        using var chat = client.Chat(Keyed());
        var streaming = await Assert.ThrowsAsync<RpcException>(() => chat.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());

        foreach (var error in new[] { unary, streaming })
        {
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);
            Assert.Equal($"The grpc service could not be reached; retry in {RetryAfterSeconds} s.", error.Status.Detail);
            Assert.Equal(RetryAfterSeconds, error.Trailers.GetValue("retry-after"));
        }
    }

    [Fact]
    public async Task Grpc_WithNoDestinationAtAll_IsUnavailable_NoHealthyInstance()
    {
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var client = new ChatService.ChatServiceClient(channel);
        var headers = Keyed();
        headers.Add(UnreachableGatewayFixture.RouteHeader, "empty");

        var error = await Assert.ThrowsAsync<RpcException>(() => client.CreateSessionAsync(new CreateSessionRequest(), headers).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal($"No healthy instance of the empty service is available; retry in {RetryAfterSeconds} s.", error.Status.Detail);
    }

    [Fact]
    public async Task GrpcWeb_WithTheReplicaRefusingConnections_IsUnavailable_InATrailersOnlyResponse()
    {
        // A gRPC-Web client (Grpc.Net.Client.Web) reads UNAVAILABLE.
        using var channel = GrpcWebChannel("/grpc");
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = new ChatService.ChatServiceClient(channel).SendMessage(new ChatRequest { Message = "hi" }, Keyed());
            await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout();
        });
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal($"The grpc service could not be reached; retry in {RetryAfterSeconds} s.", error.Status.Detail);

        // On the wire (PROTOCOL-WEB): HTTP 200, the status in the headers, no message and no trailer frame in the body.
        using var client = gateway.CreateKeyedClient();
        using var content = new ByteArrayContent([0, 0, 0, 0, 0]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc-web+proto");
        using var response = await client.PostAsync("/grpc/chat.ChatService/CreateSession", content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/grpc-web+proto", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(["14"], response.Headers.GetValues("grpc-status"));
        Assert.Equal($"The grpc service could not be reached; retry in {RetryAfterSeconds} s.",
            Uri.UnescapeDataString(response.Headers.GetValues("grpc-message").Single()));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync().DefaultTimeout());
    }

    [Theory]
    [InlineData("GET", "/dying/sse/chat/dies/{0}", "data: {\"n\":1}")]
    [InlineData("POST", "/dying/streaming/chat/dies/{0}", "{\"type\":\"chunk\",\"text\":\"one \"}")]
    public async Task HttpStream_WhoseReplicaDiesMidStream_IsCutNotEndedCleanly(string method, string pathFormat, string firstLine)
    {
        var gate = BackendGates.New();
        using var client = gateway.CreateKeyedClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), string.Format(System.Globalization.CultureInfo.InvariantCulture, pathFormat, gate));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync().DefaultTimeout());
        Assert.Equal(firstLine, await reader.ReadLineAsync().DefaultTimeout());

        BackendGates.Release(gate);

        // The client sees the stream break (an incomplete chunked body), so it cannot take the part for the whole.
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            while (await reader.ReadLineAsync().DefaultTimeout() is not null)
            {
            }
        });
    }

    [Fact]
    public async Task Grpc_WhoseReplicaDiesMidCall_EndsUnavailable_AfterTheMessagesAlreadySent()
    {
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var headers = Keyed();
        headers.Add(UnreachableGatewayFixture.RouteHeader, "dying");

        var error = await AssertCallEndsUnavailableAsync(new ChatService.ChatServiceClient(channel), headers);
        Assert.Equal(RetryAfterSeconds, error.Trailers.GetValue("retry-after"));
    }

    [Fact]
    public async Task GrpcWeb_WhoseReplicaDiesMidCall_EndsUnavailable_InATrailerFrame()
    {
        using var channel = GrpcWebChannel("/dying/grpc");

        var error = await AssertCallEndsUnavailableAsync(new ChatService.ChatServiceClient(channel), Keyed());
        Assert.Null(error.Trailers.GetValue("retry-after"));
    }

    [Fact]
    public async Task WebSocket_WhoseReplicaDiesMidConversation_IsClosed_NotLeftHanging()
    {
        using var socket = new ClientWebSocket();
        var uri = new Uri($"ws://127.0.0.1:{gateway.Http1Port}/dying/websocket/ws-dies?api_key={UnreachableGatewayFixture.ApiKey}");
        await socket.ConnectAsync(uri, CancellationToken.None).DefaultTimeout();
        await socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
        var buffer = new byte[64];
        var echoed = await socket.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout();
        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, echoed.Count));

        await socket.SendAsync("die"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();

        // The gateway closes the client's connection with the replica's: no close frame (1006 to a browser).
        var closed = await Assert.ThrowsAsync<WebSocketException>(() => socket.ReceiveAsync(buffer, CancellationToken.None).DefaultTimeout());
        Assert.Equal(WebSocketError.ConnectionClosedPrematurely, closed.WebSocketErrorCode);
        Assert.Equal(WebSocketState.Aborted, socket.State);
    }

    [Fact]
    public async Task FailedForwarding_IsLogged_WithoutTheApiKey_InHeaderOrBearer()
    {
        using var keyed = gateway.CreateClient();
        keyed.DefaultRequestHeaders.Add("X-Api-Key", UnreachableGatewayFixture.HeaderOnlyApiKey);
        using (var refused = await keyed.GetAsync("/rest/sessions").DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        using var bearer = gateway.CreateClient();
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", UnreachableGatewayFixture.HeaderOnlyApiKey);
        using (var refused = await bearer.GetAsync("/sse/chat/turns/0123/events").DefaultTimeout())
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        var (statusLine, _, _) = await RawUpgradeAsync("/websocket/ws", apiKeyHeader: UnreachableGatewayFixture.HeaderOnlyApiKey);
        Assert.Equal("HTTP/1.1 503 Service Unavailable", statusLine);
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var error = await Assert.ThrowsAsync<RpcException>(() => new ChatService.ChatServiceClient(channel)
            .CreateSessionAsync(new CreateSessionRequest(), new Metadata { { "x-api-key", UnreachableGatewayFixture.HeaderOnlyApiKey } })
            .ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);

        var lines = gateway.Logs.Lines.ToArray();
        // Not vacuous: the failures were logged, by YARP (with the exception) and by the gateway (event 4).
        Assert.Contains(lines, l => l.Contains("Answered 503 to GET /websocket/ws: the websocket service could not be reached", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("Warning Yarp.ReverseProxy.Forwarder.HttpForwarder", StringComparison.Ordinal));
        var leaked = lines.Where(l => l.Contains(UnreachableGatewayFixture.HeaderOnlyApiKey, StringComparison.Ordinal)).ToList();
        Assert.True(leaked.Count == 0, "The API key is in the log:\n" + string.Join("\n", leaked));
    }

    private static async Task<JsonElement> AssertUnavailableProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(UnreachableGatewayFixture.RetryAfter, response.Headers.RetryAfter?.Delta);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync().DefaultTimeout()).RootElement.Clone();
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
        Assert.Equal("Service unavailable", problem.GetProperty("title").GetString());
        return problem;
    }

    /// <summary>One message arrives; the replica then dies between messages; the call ends UNAVAILABLE (not CANCELLED or INTERNAL).</summary>
    private static async Task<RpcException> AssertCallEndsUnavailableAsync(ChatService.ChatServiceClient client, Metadata headers)
    {
        var gate = BackendGates.New();
        using var call = client.SendMessage(new ChatRequest { Message = $"die:{gate}" }, headers);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal($"die:{gate}", call.ResponseStream.Current.ChunkText);

        BackendGates.Release(gate);

        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.True(error.StatusCode == StatusCode.Unavailable, error.ToString());
        Assert.Equal("The dying-grpc service went away during the call; retry.", error.Status.Detail);
        return error;
    }

    private GrpcChannel GrpcWebChannel(string pathBase) => GrpcChannel.ForAddress(gateway.Http1Address, new GrpcChannelOptions
    {
        HttpHandler = new GrpcWebHandler(GrpcWebMode.GrpcWeb, new GatewayStreamingTests.PathBaseHandler(pathBase, new SocketsHttpHandler())),
        HttpVersion = HttpVersion.Version11,
        HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    });

    private static Metadata Keyed() => new() { { "x-api-key", UnreachableGatewayFixture.ApiKey } };

    /// <summary>
    /// A WebSocket upgrade written by hand (the key in the query, as browsers send it, unless a header is given), and the gateway's answer read
    /// to its end: ClientWebSocket does not show the body of a refused upgrade.
    /// </summary>
    private async Task<(string StatusLine, Dictionary<string, string> Headers, string Body)> RawUpgradeAsync(string path, string? apiKeyHeader = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, gateway.Http1Port).DefaultTimeout();
        var stream = tcp.GetStream();
        var request =
            (apiKeyHeader is null ? $"GET {path}?api_key={UnreachableGatewayFixture.ApiKey} HTTP/1.1\r\n" : $"GET {path} HTTP/1.1\r\nX-Api-Key: {apiKeyHeader}\r\n") +
            $"Host: 127.0.0.1:{gateway.Http1Port}\r\n" +
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request)).DefaultTimeout();

        using var reader = new StreamReader(stream, Encoding.UTF8);
        var statusLine = await reader.ReadLineAsync().DefaultTimeout() ?? "";
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (await reader.ReadLineAsync().DefaultTimeout() is { Length: > 0 } line)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon]] = line[(colon + 1)..].Trim();
        }

        var body = "";
        if (headers.TryGetValue("Content-Length", out var length))
        {
            var chars = new char[int.Parse(length, System.Globalization.CultureInfo.InvariantCulture)];
            var read = 0;
            while (read < chars.Length && await reader.ReadAsync(chars.AsMemory(read)).DefaultTimeout() is > 0 and var n)
            {
                read += n;
            }

            body = new string(chars, 0, read);
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding == "chunked")
        {
            var builder = new StringBuilder();
            while (await reader.ReadLineAsync().DefaultTimeout() is { } sizeLine && Convert.ToInt32(sizeLine, 16) is > 0 and var size)
            {
                var chunk = new char[size];
                var read = 0;
                while (read < size && await reader.ReadAsync(chunk.AsMemory(read)).DefaultTimeout() is > 0 and var n)
                {
                    read += n;
                }

                builder.Append(chunk, 0, read);
                await reader.ReadLineAsync().DefaultTimeout();
            }

            body = builder.ToString();
        }

        return (statusLine, headers, body);
    }
}
