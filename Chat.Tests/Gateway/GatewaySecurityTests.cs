using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Grpc.Core;
using Grpc.Net.Client;

namespace Chat.Tests.Gateway;

[Collection(SecuredGatewayCollection.Name)]
public sealed class GatewaySecurityTests(SecuredGatewayFixture gateway)
{
    [Fact]
    public async Task ApiKeys_MissingKey_IsUnauthorizedProblem()
    {
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync("/rest/sessions").DefaultTimeout();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "ApiKey");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync().DefaultTimeout());
        Assert.Equal(401, problem.RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task ApiKeys_WrongKey_IsUnauthorized()
    {
        using var client = gateway.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", "not-a-key");

        using var response = await client.GetAsync("/rest/sessions").DefaultTimeout();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task ApiKeys_HashedKeyInHeader_ForwardsTheKeyIdAsPrincipalAndNotTheKey()
    {
        using var client = gateway.CreateClient();
        var marker = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/rest/{marker}");
        request.Headers.Add("X-Api-Key", SecuredGatewayFixture.AliceKey);
        request.Headers.Add("X-Chat-Principal", "root");

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = gateway.Backends.SelectMany(b => b.Requests).Single(r => r.Path == $"/{marker}");
        Assert.Equal("alice", seen.Headers["X-Chat-Principal"]);
        Assert.False(seen.Headers.ContainsKey("X-Api-Key"));
    }

    [Fact]
    public async Task ApiKeys_BearerKey_IsAcceptedAndNotForwarded()
    {
        using var client = gateway.CreateClient();
        var marker = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/sse/{marker}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SecuredGatewayFixture.BobKey);

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = gateway.Sse.Requests.Single(r => r.Path == $"/{marker}");
        Assert.Equal("bob", seen.Headers["X-Chat-Principal"]);
        Assert.False(seen.Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task ApiKeys_IndexAndHealth_StayOpen()
    {
        using var client = gateway.CreateClient();

        using var index = await client.GetAsync("/").DefaultTimeout();
        using var health = await client.GetAsync("/health").DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task ApiKeys_WebSocketUpgradeWithoutKey_IsRefused()
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;

        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(WebSocketUri(), CancellationToken.None).DefaultTimeout());

        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }

    [Fact]
    public async Task ApiKeys_WebSocketWithKeyInQuery_ConnectsAndTheKeyIsNotForwarded()
    {
        using var socket = new ClientWebSocket();
        var marker = Guid.NewGuid().ToString("N");

        await socket.ConnectAsync(new Uri($"{WebSocketUri()}?api_key={SecuredGatewayFixture.AliceKey}&m={marker}"), CancellationToken.None)
            .DefaultTimeout();

        Assert.Equal(WebSocketState.Open, socket.State);
        var seen = gateway.WebSocket.Requests.Single(r => r.Path == "/ws" && r.Query.Contains(marker, StringComparison.Ordinal));
        Assert.Equal("alice", seen.Headers["X-Chat-Principal"]);
        Assert.Equal($"?m={marker}", seen.Query);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).DefaultTimeout();
    }

    [Fact]
    public async Task ApiKeys_NativeGrpcWithoutKey_IsUnauthenticated()
    {
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var client = new ChatService.ChatServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task ApiKeys_NativeGrpcWithKeyMetadata_ReachesTheBackendAsThePrincipal()
    {
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var client = new ChatService.ChatServiceClient(channel);
        var marker = Guid.NewGuid().ToString("N");

        var session = await client.CreateSessionAsync(new CreateSessionRequest { ModelId = marker },
            new Metadata { { "x-api-key", SecuredGatewayFixture.BobKey } }).ResponseAsync.DefaultTimeout();

        Assert.Equal(marker, session.Model);
        var seen = gateway.Grpc.Requests.Last(r => r.Path == "/chat.ChatService/CreateSession");
        Assert.Equal("bob", seen.Headers["X-Chat-Principal"]);
    }

    [Fact]
    public async Task RateLimit_ResponsesCarryLimitAndRemaining_ThenRefuseWith429AndRetryAfter()
    {
        using var client = gateway.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", SecuredGatewayFixture.CarolKey);
        var remaining = new List<int>();

        for (var i = 0; i < SecuredGatewayFixture.RateLimit; i++)
        {
            using var ok = await client.GetAsync("/rest/sessions").DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal([SecuredGatewayFixture.RateLimit.ToString()], ok.Headers.GetValues("X-RateLimit-Limit"));
            remaining.Add(int.Parse(ok.Headers.GetValues("X-RateLimit-Remaining").Single()));
        }

        using var refused = await client.GetAsync("/rest/sessions").DefaultTimeout();

        Assert.Equal(Enumerable.Range(0, SecuredGatewayFixture.RateLimit).Reverse(), remaining);
        Assert.Equal((HttpStatusCode)429, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal(["0"], refused.Headers.GetValues("X-RateLimit-Remaining"));

        // Another caller has a bucket of its own.
        using var other = gateway.CreateClient();
        other.DefaultRequestHeaders.Add("X-Api-Key", SecuredGatewayFixture.AliceKey);
        using var otherResponse = await other.GetAsync("/rest/sessions").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, otherResponse.StatusCode);
    }

    [Fact]
    public async Task RateLimit_ExhaustedForGrpc_IsResourceExhausted()
    {
        using var channel = GrpcChannel.ForAddress(gateway.Http2Address);
        var client = new ChatService.ChatServiceClient(channel);
        var dave = new Metadata { { "x-api-key", SecuredGatewayFixture.DaveKey } };
        for (var i = 0; i < SecuredGatewayFixture.RateLimit; i++)
        {
            await client.CreateSessionAsync(new CreateSessionRequest(), dave).ResponseAsync.DefaultTimeout();
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => client.CreateSessionAsync(new CreateSessionRequest(), dave).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task Cors_PreflightFromAllowedOrigin_IsAllowedWithoutAKey()
    {
        using var client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Options, "/streaming/chat/stream");
        request.Headers.Add("Origin", SecuredGatewayFixture.AllowedOrigin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "content-type,x-api-key");

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal([SecuredGatewayFixture.AllowedOrigin], response.Headers.GetValues("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Cors_OtherOrigin_GetsNoCorsHeaders()
    {
        using var client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/rest/sessions");
        request.Headers.Add("Origin", "https://evil.example");
        request.Headers.Add("X-Api-Key", SecuredGatewayFixture.AliceKey);

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Cors_AllowedOrigin_SeesTheExposedHeaders()
    {
        using var client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/rest/sessions");
        request.Headers.Add("Origin", SecuredGatewayFixture.AllowedOrigin);
        request.Headers.Add("X-Api-Key", SecuredGatewayFixture.AliceKey);

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal([SecuredGatewayFixture.AllowedOrigin], response.Headers.GetValues("Access-Control-Allow-Origin"));
        Assert.Contains("X-RateLimit-Remaining", response.Headers.GetValues("Access-Control-Expose-Headers").Single(), StringComparison.Ordinal);
    }

    private Uri WebSocketUri() => new($"ws://127.0.0.1:{gateway.Http1Port}/websocket/ws");
}
