using System.Net;
using Chat.Contracts.Llm.V1;
using Chat.Hosting;
using Chat.Hosting.Orchestration;
using Chat.Hosting.Testing;
using Chat.Tests.Infrastructure;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

[Collection(AppHostCollection.Name)]
public sealed class AppHostTests(AppHostFixture fixture)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public void Start_WholeGraph_EveryResourceOfProgramCsIsRunningAndHealthy()
    {
        var resources = _app.Resources.GetResources();

        Assert.Equal(
            ["redis-0", "llm-0", "llm-1", "rest-0", "streaming-0", "sse-0", "sse-1", "websocket-0", "grpc-0", "gateway-0"],
            resources.Select(r => r.Name));
        Assert.All(resources, r =>
        {
            Assert.Equal(ReplicaStates.Running, r.State);
            Assert.Equal("Healthy", r.Health);
            Assert.NotNull(r.ProcessId);
        });
        Assert.Equal("Executable", resources.Single(r => r.Resource == "redis").Type);
        Assert.All(resources.Where(r => r.Resource != "redis"), r => Assert.Equal("Project", r.Type));
    }

    [Fact]
    public void Environment_IsInjectedTheAspireWay_WithEveryReplicaAddress()
    {
        var llm = _app.GetResourceSnapshots("llm");
        var sse = _app.GetResourceSnapshots("sse");
        var gateway = _app.GetResourceSnapshots("gateway").Single();
        var sse1 = sse[1].Environment;

        Assert.Equal(_app.GetConnectionString("redis"), llm[0].Environment["ConnectionStrings__redis"]);
        Assert.Equal("llm", llm[1].Environment["OTEL_SERVICE_NAME"]);
        Assert.Equal("service.instance.id=llm-1", llm[1].Environment["OTEL_RESOURCE_ATTRIBUTES"]);
        Assert.Equal(llm[1].Endpoints[0].Url, llm[1].Environment["ASPNETCORE_URLS"]);
        Assert.Equal("Development", llm[0].Environment["ASPNETCORE_ENVIRONMENT"]);
        Assert.Equal("0", llm[0].Environment["Llm__Offline__InterTokenDelayMs"]);

        // Each replica's own address, one index per replica (Aspire would inject a single proxy address).
        Assert.Equal(llm[0].Endpoints[0].Url, sse1["services__llm__http__0"]);
        Assert.Equal(llm[1].Endpoints[0].Url, sse1["services__llm__http__1"]);
        Assert.False(sse1.ContainsKey("ConnectionStrings__redis"));
        Assert.Equal(sse[0].Endpoints[0].Url, gateway.Environment["services__sse__http__0"]);
        Assert.Equal(sse[1].Endpoints[0].Url, gateway.Environment["services__sse__http__1"]);
        Assert.Contains("services__grpc__http__0", gateway.Environment.Keys);

        // The gateway's two public endpoints: HTTP/1.1 in ASPNETCORE_URLS, h2c in GATEWAY_HTTP2_URL; random ports in tests.
        Assert.Equal(_app.GetEndpoint("gateway", "http").ToString().TrimEnd('/'), gateway.Environment["ASPNETCORE_URLS"]);
        Assert.Equal(_app.GetEndpoint("gateway", "http2").ToString().TrimEnd('/'), gateway.Environment["GATEWAY_HTTP2_URL"]);
        Assert.DoesNotContain(gateway.Endpoints, e => e.Url.EndsWith(":8000", StringComparison.Ordinal) || e.Url.EndsWith(":50051", StringComparison.Ordinal));
        Assert.DoesNotContain("OTEL_EXPORTER_OTLP_ENDPOINT", gateway.Environment.Keys);
    }

    [Fact]
    public async Task Conversation_ThroughLlmService_RemembersEveryTurn()
    {
        using var channel = _app.CreateGrpcChannel("llm");
        var client = new LlmService.LlmServiceClient(channel);
        var session = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        var first = await LlmConversation.TurnAsync(client, session.Id, "My name is Ada.").DefaultTimeout();
        var second = await LlmConversation.TurnAsync(client, session.Id, "What is my name?").DefaultTimeout();
        var third = await LlmConversation.TurnAsync(client, session.Id, "And what did I ask you first?").DefaultTimeout();

        Assert.Equal(session.Id, first.Accepted.SessionId);
        Assert.Equal([0, 2, 4], new[] { first.Accepted.MessageCount, second.Accepted.MessageCount, third.Accepted.MessageCount });
        Assert.Equal(6, third.Completed.MessageCount);
        var history = await client.GetHistoryAsync(new GetHistoryRequest { SessionId = session.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal(["user", "model", "user", "model", "user", "model"], history.Messages.Select(m => m.Role));
        Assert.Equal("What is my name?", history.Messages[2].Text);
        Assert.Equal(second.Text, history.Messages[3].Text);
    }

    [Fact]
    public async Task Replicas_EachAnswersWithItsOwnIdentity()
    {
        foreach (var replica in _app.GetResourceSnapshots("sse"))
        {
            using var http = _app.CreateHttpClient(replica.Name);
            using var response = await http.GetAsync("/health").DefaultTimeout();

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"sse/{replica.Name}", Assert.Single(response.Headers.GetValues("X-Served-By")));
        }

        var instances = new List<string>();
        foreach (var replica in _app.GetResourceSnapshots("llm"))
        {
            using var channel = _app.CreateGrpcChannel(replica.Name);
            var stats = await new LlmService.LlmServiceClient(channel).GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
            instances.Add(stats.InstanceId);
        }

        Assert.Equal(["llm-0", "llm-1"], instances);
    }

    [Fact]
    public async Task Session_CreatedOnOneReplica_ContinuesOnTheOther()
    {
        using var channel0 = _app.CreateGrpcChannel("llm-0");
        using var channel1 = _app.CreateGrpcChannel("llm-1");
        var replica0 = new LlmService.LlmServiceClient(channel0);
        var replica1 = new LlmService.LlmServiceClient(channel1);

        var session = await replica0.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        await LlmConversation.TurnAsync(replica0, session.Id, "Remember the number 42.").DefaultTimeout();
        var continued = await LlmConversation.TurnAsync(replica1, session.Id, "Which number?").DefaultTimeout();

        Assert.Equal(2, continued.Accepted.MessageCount);
        var history = await replica1.GetHistoryAsync(new GetHistoryRequest { SessionId = session.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal("Remember the number 42.", history.Messages[0].Text);
    }
}
