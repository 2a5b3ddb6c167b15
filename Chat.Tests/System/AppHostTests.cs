using System.Net;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Xunit.Abstractions;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

[Collection(AppHostCollection.Name)]
public sealed class AppHostTests(AppHostFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public void Start_WholeGraph_EveryResourceOfProgramCsIsRunningAndHealthy()
    {
        var resources = _app.ProcessResources().Select(r => _app.GetResourceSnapshots(r.Name).Single(s => s.Name == r.Name)).ToList();

        Assert.Equal(
            ["redis", "llm", "llm-1", "rest", "streaming", "sse", "sse-1", "websocket", "grpc", "gateway"],
            resources.Select(r => r.Name));
        Assert.All(resources, r =>
        {
            Assert.Equal("Running", r.State);
            Assert.Equal("Healthy", r.Health);
            Assert.NotNull(r.ProcessId);
        });
    }

    [Fact]
    public void Environment_IsInjectedTheAspireWay_WithEveryReplicaAddress()
    {
        var llm = _app.GetResourceSnapshots("llm");
        var sse = _app.GetResourceSnapshots("sse");
        var gateway = _app.GetResourceSnapshots("gateway").Single();
        var sse1 = sse[1].Environment;

        Assert.Equal(["llm", "llm-1"], llm.Select(r => r.Name));
        Assert.Matches(@"^127\.0\.0\.1:\d+$", llm[0].Environment["ConnectionStrings__redis"]);
        Assert.Equal("llm-1", llm[1].Environment["OTEL_SERVICE_NAME"]);
        Assert.Equal($"service.instance.id={llm[1].InstanceId}", llm[1].Environment["OTEL_RESOURCE_ATTRIBUTES"]);
        Assert.Equal(_app.GetEndpoint("llm-1", "http").ToString().TrimEnd('/'), llm[1].Environment["ASPNETCORE_URLS"]);
        Assert.Equal("0", llm[0].Environment["Llm__Offline__InterTokenDelayMs"]);

        // Each replica's own address, one index per replica, no DCP proxy (WithReplicas would inject one proxy address).
        Assert.Equal(_app.GetEndpoint("llm", "http").ToString().TrimEnd('/'), sse1["services__llm__http__0"]);
        Assert.Equal(_app.GetEndpoint("llm-1", "http").ToString().TrimEnd('/'), sse1["services__llm__http__1"]);
        Assert.False(sse1.ContainsKey("ConnectionStrings__redis"));
        Assert.Equal(_app.GetEndpoint("sse", "http").ToString().TrimEnd('/'), gateway.Environment["services__sse__http__0"]);
        Assert.Equal(_app.GetEndpoint("sse-1", "http").ToString().TrimEnd('/'), gateway.Environment["services__sse__http__1"]);
        Assert.Contains("services__grpc__http__0", gateway.Environment.Keys);

        // The gateway's two public endpoints: HTTP/1.1 in ASPNETCORE_URLS, h2c in GATEWAY_HTTP2_URL; never 8000/50051 in tests.
        Assert.Equal(_app.GetEndpoint("gateway", "http").ToString().TrimEnd('/'), gateway.Environment["ASPNETCORE_URLS"]);
        Assert.Equal(_app.GetEndpoint("gateway", "http2").ToString().TrimEnd('/'), gateway.Environment["GATEWAY_HTTP2_URL"]);
        Assert.NotEqual(8000, _app.GetEndpoint("gateway", "http").Port);
        Assert.NotEqual(50051, _app.GetEndpoint("gateway", "http2").Port);
    }

    [Fact]
    public async Task RuntimeTuning_ReachesEveryServiceProcess_TheLargerGen0BudgetAllButTheGateway()
    {
        const string gen0 = $"DOTNET_GCgen0size={RuntimeTuningExtensions.Gen0Budget}";
        const string pool = $"DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION={RuntimeTuningExtensions.PooledArraysPerPartition}";
        foreach (var resource in _app.ProcessResources())
        {
            var snapshot = _app.GetResourceSnapshots(resource.Name).Single(s => s.Name == resource.Name);
            // What the process was started with, read from the kernel (not from the resource model).
            var environ = (await File.ReadAllTextAsync($"/proc/{snapshot.ProcessId}/environ")).Split('\0');
            switch (resource.Name)
            {
                case "redis":
                    Assert.DoesNotContain(gen0, environ);
                    Assert.DoesNotContain(pool, environ);
                    break;
                case "gateway":
                    Assert.Contains(pool, environ);
                    Assert.DoesNotContain(gen0, environ);
                    break;
                default:
                    Assert.Contains(gen0, environ);
                    Assert.Contains(pool, environ);
                    break;
            }
        }
    }

    [Fact]
    public async Task Conversation_ThroughLlmService_RemembersEveryTurn()
    {
        using var channel = await _app.CreateGrpcChannelAsync("llm");
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
            using var http = _app.CreateHttpClient(replica.Name, "http");
            using var response = await http.GetAsync("/health").DefaultTimeout();

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"{replica.Name}/{replica.InstanceId}", Assert.Single(response.Headers.GetValues("X-Served-By")));
        }

        var instances = new List<string>();
        foreach (var replica in _app.GetResourceSnapshots("llm"))
        {
            using var channel = await _app.CreateGrpcChannelAsync(replica.Name);
            var stats = await new LlmService.LlmServiceClient(channel).GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
            instances.Add(stats.InstanceId);
        }

        Assert.Equal(_app.GetResourceSnapshots("llm").Select(r => r.InstanceId), instances);
    }

    [Fact]
    public async Task Session_CreatedOnOneReplica_ContinuesOnTheOther()
    {
        using var channel0 = await _app.CreateGrpcChannelAsync("llm");
        using var channel1 = await _app.CreateGrpcChannelAsync("llm-1");
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
