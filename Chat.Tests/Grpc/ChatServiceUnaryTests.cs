using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using GrpcWebMode = Grpc.Net.Client.Web.GrpcWebMode;

namespace Chat.Tests.Grpc;

[Collection(BidiCollection.Name)]
public sealed class ChatServiceUnaryTests(BidiFixture fixture)
{
    [Fact]
    public async Task CreateSession_GetSessionInfo_ListSessions_DeleteSession_RoundTrip()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();

        var created = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        Assert.True(created.Success);
        Assert.True(Guid.TryParse(created.SessionId, out _));
        Assert.Equal("offline-echo-1", created.Model);

        var info = await client.GetSessionInfoAsync(new SessionInfoRequest { SessionId = created.SessionId }).ResponseAsync.DefaultTimeout();
        Assert.True(info.Success);
        Assert.Equal(created.SessionId, info.SessionId);
        Assert.Equal("offline-echo-1", info.Model);
        Assert.Equal(0, info.MessageCount);
        Assert.True(DateTimeOffset.TryParse(info.CreatedAt, System.Globalization.CultureInfo.InvariantCulture, out _), info.CreatedAt);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$", info.CreatedAt);

        var list = await client.ListSessionsAsync(new ListSessionsRequest()).ResponseAsync.DefaultTimeout();
        var summary = Assert.Single(list.Sessions, s => s.SessionId == created.SessionId);
        Assert.Equal("offline-echo-1", summary.Model);
        Assert.True(list.ActiveSessions >= 1);

        var deleted = await client.DeleteSessionAsync(new DeleteSessionRequest { SessionId = created.SessionId }).ResponseAsync.DefaultTimeout();
        Assert.True(deleted.Success);
        Assert.Equal($"Session {created.SessionId} deleted successfully", deleted.Message);

        var gone = await client.GetSessionInfoAsync(new SessionInfoRequest { SessionId = created.SessionId }).ResponseAsync.DefaultTimeout();
        Assert.False(gone.Success);
        Assert.Equal("Session not found", gone.Message);
        var deletedAgain = await client.DeleteSessionAsync(new DeleteSessionRequest { SessionId = created.SessionId }).ResponseAsync.DefaultTimeout();
        Assert.False(deletedAgain.Success);
        Assert.Equal("Session not found", deletedAgain.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-guid")]
    public async Task GetSessionInfo_WithAMalformedId_IsInvalidArgument(string sessionId)
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetSessionInfoAsync(new SessionInfoRequest { SessionId = sessionId }).ResponseAsync)
            .DefaultTimeout();

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task DeleteSession_WithoutId_IsInvalidArgument()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.DeleteSessionAsync(new DeleteSessionRequest()).ResponseAsync).DefaultTimeout();

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("session_id is required", error.Status.Detail);
    }

    [Fact]
    public async Task GetServerStats_ReportsTheModelAndTheFramework()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateClient();
        await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();

        var stats = await client.GetServerStatsAsync(new ServerStatsRequest()).ResponseAsync.DefaultTimeout();

        Assert.Equal("offline-echo-1", stats.Model);
        Assert.Equal("gRPC (ASP.NET Core)", stats.Framework);
        Assert.True(stats.TotalSessionsCreated >= 1);
        Assert.True(stats.UptimeSeconds >= 0);
    }

    [Fact]
    public async Task LlmServiceDown_IsUnavailable()
    {
        await using var host = await GrpcServiceHost.StartAsync($"http://127.0.0.1:{RedisServer.FreeTcpPort()}");
        var client = host.CreateClient();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync).DefaultTimeout();

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    [Fact]
    public async Task Health_ReportsServing_AndReflectionListsTheServices()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var channel = host.CreateChannel();

        var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()).ResponseAsync.DefaultTimeout();
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        using var reflection = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" }).DefaultTimeout();
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = "chat.ChatService" }).DefaultTimeout();
        await reflection.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.True(await reflection.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        var services = reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("chat.ChatService", services);
        Assert.Contains("grpc.health.v1.Health", services);
        Assert.True(await reflection.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.NotEmpty(reflection.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto);
    }

    [Theory]
    [InlineData(GrpcWebMode.GrpcWeb)]
    [InlineData(GrpcWebMode.GrpcWebText)]
    public async Task GrpcWeb_OverHttp11_ServesTheUnaryRpcs(GrpcWebMode mode)
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        var client = host.CreateGrpcWebClient(mode);

        var created = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        var info = await client.GetSessionInfoAsync(new SessionInfoRequest { SessionId = created.SessionId }).ResponseAsync.DefaultTimeout();

        Assert.True(created.Success);
        Assert.Equal(created.SessionId, info.SessionId);
        var error = await Assert.ThrowsAsync<RpcException>(() => client.DeleteSessionAsync(new DeleteSessionRequest()).ResponseAsync).DefaultTimeout();
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task HealthAndAliveEndpoints_AnswerOverHttp2()
    {
        await using var host = await GrpcServiceHost.StartAsync(fixture.FastLlm.Address);
        using var http = new HttpClient(new SocketsHttpHandler())
        {
            BaseAddress = host.Http2Address,
            DefaultRequestVersion = System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var health = await http.GetAsync("/health").DefaultTimeout();
        var alive = await http.GetAsync("/alive").DefaultTimeout();

        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, alive.StatusCode);
        Assert.Equal(new Version(2, 0), health.Version);
    }
}
