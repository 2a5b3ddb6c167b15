using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace Chat.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public sealed class GatewayRoutingTests(GatewayFixture gateway)
{
    [Theory]
    [InlineData("/rest/sessions/abc?x=1", "rest-", "/sessions/abc", "?x=1")]
    [InlineData("/streaming/chat/stream", "streaming-0", "/chat/stream", "")]
    [InlineData("/sse/stats", "sse-0", "/stats", "")]
    [InlineData("/websocket/sessions", "websocket-0", "/sessions", "")]
    [InlineData("/rest", "rest-", "/", "")]
    public async Task PrefixRoute_ReachesItsTransportWithThePrefixRemoved(string path, string backend, string forwardedPath, string query)
    {
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync(path).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = await EchoReply.ReadAsync(response);
        Assert.StartsWith(backend, echo.Backend, StringComparison.Ordinal);
        Assert.Equal(forwardedPath, echo.Path);
        Assert.Equal(query, echo.Query);
    }

    [Fact]
    public async Task UnknownPath_IsNotFoundAtTheGateway()
    {
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync("/nowhere/at/all").DefaultTimeout();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task ProxiedResponse_ServedByNamesTheReplicaNotTheGateway()
    {
        using var client = gateway.CreateClient();

        using var proxied = await client.GetAsync("/sse/stats").DefaultTimeout();
        using var own = await client.GetAsync("/health").DefaultTimeout();

        Assert.Equal(["sse-0"], proxied.Headers.GetValues("X-Served-By"));
        Assert.StartsWith("Chat.Gateway/", Assert.Single(own.Headers.GetValues("X-Served-By")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoReplicas_BothReceiveRequests()
    {
        using var client = gateway.CreateClient();
        var servedBy = new List<string>();

        for (var i = 0; i < 30; i++)
        {
            using var response = await client.GetAsync($"/rest/sessions/{i}").DefaultTimeout();
            servedBy.Add((await EchoReply.ReadAsync(response)).Backend);
        }

        Assert.Contains("rest-0", servedBy);
        Assert.Contains("rest-1", servedBy);
    }

    [Fact]
    public async Task Replica_WhoseHealthFails_IsTakenOutOfRotationAndPutBack()
    {
        using var client = gateway.CreateClient();
        try
        {
            gateway.Rest1.Healthy = false;
            await WaitForDestinationHealthAsync("rest", gateway.Rest1.Address, DestinationHealth.Unhealthy);

            for (var i = 0; i < 20; i++)
            {
                using var response = await client.GetAsync("/rest/while-down").DefaultTimeout();
                Assert.Equal("rest-0", (await EchoReply.ReadAsync(response)).Backend);
            }
        }
        finally
        {
            gateway.Rest1.Healthy = true;
        }

        await WaitForDestinationHealthAsync("rest", gateway.Rest1.Address, DestinationHealth.Healthy);
        var servedBy = new HashSet<string>();
        for (var i = 0; i < 30 && servedBy.Count < 2; i++)
        {
            using var response = await client.GetAsync("/rest/back-up").DefaultTimeout();
            servedBy.Add((await EchoReply.ReadAsync(response)).Backend);
        }

        Assert.Equal(["rest-0", "rest-1"], servedBy.Order());
    }

    [Fact]
    public async Task GrpcCluster_IsProbedOverHttp2AndHealthy()
    {
        await WaitForDestinationHealthAsync("grpc", gateway.Grpc.Address, DestinationHealth.Healthy);

        var probe = gateway.Grpc.Seen.Last(r => r.Path == "/health");
        Assert.Equal("HTTP/2", probe.Protocol);
    }

    [Fact]
    public async Task ForwardedHeaders_CarryClientAddressSchemeHostAndTheRemovedPrefix()
    {
        using var client = gateway.CreateClient();
        var marker = Guid.NewGuid().ToString("N");

        using var response = await client.GetAsync($"/streaming/chat/{marker}").DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = gateway.Streaming.Requests.Single(r => r.Path == $"/chat/{marker}");
        Assert.Equal("127.0.0.1", seen.Headers["X-Forwarded-For"]);
        Assert.Equal("http", seen.Headers["X-Forwarded-Proto"]);
        Assert.Equal($"127.0.0.1:{gateway.Http1Port}", seen.Headers["X-Forwarded-Host"]);
        Assert.Equal("/streaming", seen.Headers["X-Forwarded-Prefix"]);
    }

    [Fact]
    public async Task InboundPrincipalHeader_IsStripped()
    {
        using var client = gateway.CreateClient();
        var marker = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/rest/{marker}");
        request.Headers.Add("X-Chat-Principal", "mallory");
        request.Headers.Add("X-Forwarded-Prefix", "/evil");

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = gateway.Backends.SelectMany(b => b.Requests).Single(r => r.Path == $"/{marker}");
        Assert.False(seen.Headers.ContainsKey("X-Chat-Principal"));
        Assert.Equal("/rest", seen.Headers["X-Forwarded-Prefix"]);
    }

    [Fact]
    public async Task Traceparent_ReachesTheBackendWithTheCallersTraceIdThroughAGatewaySpan()
    {
        using var client = gateway.CreateClient();
        var traceId = ActivityTraceId.CreateRandom();
        var callerSpanId = ActivitySpanId.CreateRandom();
        var marker = Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/sse/{marker}");
        request.Headers.Add("traceparent", $"00-{traceId}-{callerSpanId}-01");

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = gateway.Sse.Requests.Single(r => r.Path == $"/{marker}");
        var parts = seen.Headers["traceparent"].Split('-');
        Assert.Equal(traceId.ToHexString(), parts[1]);
        Assert.NotEqual(callerSpanId.ToHexString(), parts[2]);
        Assert.Equal("01", parts[3]);
    }

    [Fact]
    public async Task Index_ForApiClients_ListsEveryTransportAsJson()
    {
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync("/").DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync().DefaultTimeout());
        var transports = json.RootElement.GetProperty("transports").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        Assert.Equal(["grpc", "rest", "sse", "streaming", "websocket"], transports.Keys.Order());
        Assert.Equal($"{gateway.Http1Address}sse", transports["sse"].GetProperty("baseUrl").GetString());
        Assert.Equal($"{gateway.Http1Address}sse/demo", transports["sse"].GetProperty("demo").GetString());
        Assert.Equal($"ws://127.0.0.1:{gateway.Http1Port}/websocket/ws", transports["websocket"].GetProperty("baseUrl").GetString());
        Assert.Equal($"127.0.0.1:{gateway.Http2Port}", transports["grpc"].GetProperty("baseUrl").GetString());
    }

    [Fact]
    public async Task Index_ForBrowsers_IsTheBuiltWebChatPage_WithItsHashedModule()
    {
        using var client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));

        using var response = await client.SendAsync(request).DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoCache);
        var html = await response.Content.ReadAsStringAsync().DefaultTimeout();
        // Vite's output (ClientApp → wwwroot), not the sources: the module is the bundle, under a content hash.
        var script = System.Text.RegularExpressions.Regex.Match(html, "<script type=\"module\" crossorigin src=\"(/web/assets/index-[A-Za-z0-9_-]+\\.js)\"></script>");
        Assert.True(script.Success, html);
        Assert.DoesNotContain("/src/main.ts", html, StringComparison.Ordinal);

        using var module = await client.GetAsync(script.Groups[1].Value).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, module.StatusCode);
        Assert.Equal("text/javascript", module.Content.Headers.ContentType?.MediaType);
        Assert.True(module.Headers.CacheControl?.Public);
        Assert.Equal(TimeSpan.FromDays(365), module.Headers.CacheControl?.MaxAge);
        var code = await module.Content.ReadAsStringAsync().DefaultTimeout();
        Assert.Contains("application/grpc-web", code, StringComparison.Ordinal);
        Assert.Contains("/rest/sessions", code, StringComparison.Ordinal);
        using var missing = await client.GetAsync("/web/app.js").DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Health_AnswersOnBothPorts()
    {
        using var http1 = gateway.CreateClient();
        using var http2 = new HttpClient
        {
            BaseAddress = gateway.Http2Address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using var overHttp1 = await http1.GetAsync("/health").DefaultTimeout();
        using var overHttp2 = await http2.GetAsync("/alive").DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, overHttp1.StatusCode);
        Assert.Equal(HttpStatusCode.OK, overHttp2.StatusCode);
        Assert.Equal(HttpVersion.Version20, overHttp2.Version);
    }

    private async Task WaitForDestinationHealthAsync(string clusterId, string address, DestinationHealth wanted)
    {
        var lookup = gateway.GatewayServices.GetRequiredService<IProxyStateLookup>();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (lookup.TryGetCluster(clusterId, out var cluster)
                && cluster.Destinations.Values.SingleOrDefault(d => d.Model.Config.Address.TrimEnd('/') == address.TrimEnd('/')) is { } destination
                && destination.Health.Active == wanted)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"{address} in cluster {clusterId} did not become {wanted}.");
    }
}
