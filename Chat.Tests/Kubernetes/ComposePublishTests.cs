using YamlDotNet.Serialization;

namespace Chat.Tests.Kubernetes;

/// <summary>`publish --target compose`: the same model and environment as the manifests, for one Docker host.</summary>
public sealed class ComposePublishTests
{
    [Fact]
    public async Task PublishCompose_WritesEveryResource_WithTheClusterEnvironment_AndNoSecretValue()
    {
        const string gemini = "fake-gemini-key-compose-2b91";
        var directory = Directory.CreateTempSubdirectory("chat-compose-").FullName;
        try
        {
            await PublishedManifests.RunAppHostAsync(["publish", "--target", "compose", "--output", directory, "--replicas", "sse=3", $"--GEMINI_API_KEY={gemini}"]);
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
            const string redisPassword = "${REDIS_PASSWORD:?set REDIS_PASSWORD in the environment or .env}";
            Assert.Equal($"redis:6379,password={redisPassword}", llm["ConnectionStrings__redis"]);
            Assert.Equal(redisPassword, ((Dictionary<object, object>)services["redis"]["environment"])["REDIS_PASSWORD"]);
            Assert.Equal("${GEMINI_API_KEY:-}", llm["GEMINI_API_KEY"]);
            Assert.Equal("${LLM_INTERNAL_KEY:?set LLM_INTERNAL_KEY in the environment or .env}", llm["Llm__InternalApiKey"]);
            Assert.Equal("chat/llm:1.0.0", services["llm"]["image"]);
            Assert.Equal("http://llm:8080", ((Dictionary<object, object>)services["sse"]["environment"])["services__llm__http__0"]);
            Assert.Equal(["grpc", "rest", "sse", "streaming", "websocket"], ((List<object>)services["gateway"]["depends_on"]).Cast<string>().Order());
            // Strings stay strings (the Compose specification wants environment values quoted when YAML would read a boolean).
            Assert.Contains("ASPNETCORE_FORWARDEDHEADERS_ENABLED: \"true\"", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
