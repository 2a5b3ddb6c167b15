using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Chat.Tests.SystemTests;

/// <summary>The public entry of the running graph: clients talk to the gateway only.</summary>
[Collection(AppHostCollection.Name)]
public sealed class ThroughGatewayTests(AppHostFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task RestConversation_ThroughTheGateway_ContinuesTheSession()
    {
        using var http = _app.CreateHttpClient("gateway");

        var first = await ChatAsync(http, new { message = "My name is Ada." });
        var sessionId = first.GetProperty("session_id").GetString()!;
        var second = await ChatAsync(http, new { message = "What is my name?", session_id = sessionId });

        Assert.True(first.GetProperty("is_new_session").GetBoolean());
        Assert.False(second.GetProperty("is_new_session").GetBoolean());
        Assert.Equal(sessionId, second.GetProperty("session_id").GetString());
        Assert.Equal(4, second.GetProperty("message_count").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(second.GetProperty("response").GetString()));
    }

    [Fact]
    public async Task Requests_ThroughTheGateway_ReachBothSseReplicas()
    {
        using var http = _app.CreateHttpClient("gateway");
        var servedBy = new HashSet<string>();

        for (var i = 0; i < 40 && servedBy.Count < 2; i++)
        {
            // A new connection each time, so the balancer can choose per request.
            using var request = new HttpRequestMessage(HttpMethod.Get, "/sse/health") { Headers = { ConnectionClose = true } };
            using var response = await http.SendAsync(request).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            servedBy.UnionWith(response.Headers.GetValues("X-Served-By").Where(v => v.StartsWith("sse", StringComparison.Ordinal)));
        }

        Assert.Equal(_app.GetResourceSnapshots("sse").Select(r => $"{r.Name}/{r.InstanceId}").Order(), servedBy.Order());
    }

    private static async Task<JsonElement> ChatAsync(HttpClient http, object body)
    {
        using var response = await http.PostAsJsonAsync("/rest/chat", body).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>().DefaultTimeout();
    }
}
