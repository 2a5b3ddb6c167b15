using Chat.Tests.Infrastructure;
using YamlDotNet.Serialization;

namespace Chat.Tests.Kubernetes;

/// <summary>`publish --target compose`: the same graph and environment as the manifests, for one Docker host.</summary>
public sealed class ComposePublishTests
{
    [Fact]
    public async Task PublishCompose_WritesEveryResource_WithTheClusterEnvironment_AndNoSecretValue()
    {
        const string gemini = "fake-gemini-key-compose-2b91";
        var directory = Directory.CreateTempSubdirectory("chat-compose-").FullName;
        try
        {
            await PublishedManifests.RunAppHostAsync(["publish", "--target", "compose", "--output", directory, "--replicas", "sse=3", $"--GEMINI_API_KEY={gemini}"])
                .DefaultTimeout();
            var path = Path.Combine(directory, "docker-compose.yaml");
            Assert.True(File.Exists(path), $"The AppHost wrote no docker-compose.yaml to {directory}.");
            var text = await File.ReadAllTextAsync(path);
            var compose = new DeserializerBuilder().Build().Deserialize<Dictionary<string, object>>(text);
            var services = ((Dictionary<object, object>)compose["services"]).ToDictionary(s => (string)s.Key, s => (Dictionary<object, object>)s.Value);

            Assert.DoesNotContain(gemini, text, StringComparison.Ordinal);
            Assert.Equal(["dashboard", "gateway", "grpc", "llm", "redis", "rest", "sse", "streaming", "websocket"], services.Keys.Order());
            Assert.Equal("3", ((Dictionary<object, object>)services["sse"]["deploy"])["replicas"]);
            Assert.Equal(["8000:8000", "50051:50051"], ((List<object>)services["gateway"]["ports"]).Cast<string>());
            var llm = (Dictionary<object, object>)services["llm"]["environment"];
            Assert.Equal("redis:6379", llm["ConnectionStrings__redis"]);
            Assert.Equal("${GEMINI_API_KEY:-}", llm["GEMINI_API_KEY"]);
            Assert.Equal("chat/llm:1.0.0", services["llm"]["image"]);
            Assert.Equal("http://llm:8080", ((Dictionary<object, object>)services["sse"]["environment"])["services__llm__http__0"]);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
