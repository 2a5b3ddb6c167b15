using System.Net;
using Chat.Tests.Infrastructure;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;

namespace Chat.Tests.Llm;

/// <summary>What operators and tools see: grpc.health.v1, reflection, /health with Redis, HTTP/2 only.</summary>
[Collection(RedisCollection.Name)]
public sealed class ServiceSurfaceTests(RedisFixture redis)
{
    [Fact]
    public async Task Service_AnswersGrpcHealth_ReflectsItsApi_AndChecksRedisOnHealth()
    {
        await using var host = await LlmServiceHost.StartAsync(redis.ConnectionString).DefaultTimeout();

        var health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest()).ResponseAsync.DefaultTimeout();
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        using var reflection = new ServerReflection.ServerReflectionClient(host.Channel).ServerReflectionInfo();
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" }).DefaultTimeout();
        await reflection.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.True(await reflection.ResponseStream.MoveNext().DefaultTimeout());
        Assert.Contains("chat.llm.v1.LlmService", reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));

        using var http2 = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await http2.GetAsync(host.Address + "/health").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync().DefaultTimeout());
    }

    [Fact]
    public async Task Health_WhenRedisIsDown_IsUnhealthy()
    {
        await using var server = await RedisServer.StartAsync().DefaultTimeout();
        await using var host = await LlmServiceHost.StartAsync(server.ConnectionString).DefaultTimeout();
        await server.StopAsync().DefaultTimeout();

        using var http2 = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await http2.GetAsync(host.Address + "/health").DefaultTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }
}
