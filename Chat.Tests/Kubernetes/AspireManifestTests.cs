using System.Text.Json;
using System.Text.RegularExpressions;

namespace Chat.Tests.Kubernetes;

/// <summary>
/// Aspire's own manifest (`--publisher manifest`, what azd and other tools read) from the same AppHost: publish mode
/// gives Aspire's Redis and the projects, never the run-mode executables, and no secret value.
/// </summary>
public sealed partial class AspireManifestTests
{
    private static readonly string[] s_projects = ["llm", "rest", "streaming", "sse", "websocket", "grpc", "gateway"];

    [Fact]
    public async Task PublisherManifest_DescribesTheGraph_WithSecretsAsParameters()
    {
        const string gemini = "fake-gemini-key-manifest-81c2";
        const string openAi = "fake-openai-key-manifest-0d4e";
        const string gatewayKey = "fake-gateway-key-manifest-6a1f";
        var directory = Directory.CreateTempSubdirectory("chat-aspire-manifest-").FullName;
        try
        {
            await PublishedManifests.RunAppHostAsync(["--publisher", "manifest", "--output-path", directory,
                $"--GEMINI_API_KEY={gemini}", $"--Llm:OpenAI:ApiKey={openAi}", $"--Gateway:ApiKeys:alice:Key={gatewayKey}"]);
            var path = Path.Combine(directory, "aspire-manifest.json");
            Assert.True(File.Exists(path), $"The AppHost wrote no aspire-manifest.json to {directory}.");
            var text = await File.ReadAllTextAsync(path);
            using var manifest = JsonDocument.Parse(text);
            var resources = manifest.RootElement.GetProperty("resources").EnumerateObject().ToDictionary(r => r.Name, r => r.Value);

            // Secret values given to the AppHost stay out; each is a secret parameter the deployment tool asks for.
            foreach (var secret in new[] { gemini, openAi, gatewayKey })
            {
                Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            }

            foreach (var (variable, parameter, owner) in new[]
            {
                ("GEMINI_API_KEY", "gemini-api-key", "llm"),
                ("Llm__OpenAI__ApiKey", "llm-openai-apikey", "llm"),
                ("Llm__InternalApiKey", "llm-internal-key", "llm"),
                ("Gateway__ApiKeys__alice__Key", "gateway-apikeys-alice-key", "gateway"),
            })
            {
                Assert.Equal($"{{{parameter}.value}}", Env(resources[owner], variable));
                Assert.Equal("parameter.v0", Type(resources[parameter]));
                Assert.True(resources[parameter].GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean(), parameter);
            }

            // Publish mode: Aspire's Redis container, not the redis-server/Garnet executable of a local run.
            Assert.DoesNotContain(resources.Values, r => Type(r) == "executable.v0");
            Assert.Equal("container.v0", Type(resources["redis"]));
            Assert.StartsWith("docker.io/library/redis:", resources["redis"].GetProperty("image").GetString(), StringComparison.Ordinal);
            Assert.Equal(6379, resources["redis"].GetProperty("bindings").GetProperty("tcp").GetProperty("targetPort").GetInt32());
            Assert.Equal("{redis.connectionString}", Env(resources["llm"], "ConnectionStrings__redis"));

            foreach (var project in s_projects)
            {
                Assert.Equal("project.v0", Type(resources[project]));
                var csproj = Path.GetFullPath(Path.Combine(directory, resources[project].GetProperty("path").GetString()!));
                Assert.True(File.Exists(csproj), $"{project}: {csproj} does not exist.");
            }

            foreach (var transport in s_projects.Except(["llm", "gateway"]))
            {
                Assert.Equal("{llm.bindings.http.url}", Env(resources[transport], "services__llm__http__0"));
                Assert.Equal($"{{{transport}.bindings.http.url}}", Env(resources["gateway"], $"services__{transport}__http__0"));
            }

            // The h2c services say so; the gateway's public ports are fixed, external, and the h2c one is HTTP/2.
            Assert.Equal("http2", Binding(resources["llm"], "http").GetProperty("transport").GetString());
            Assert.Equal("http2", Binding(resources["grpc"], "http").GetProperty("transport").GetString());
            Assert.Equal(8000, Binding(resources["gateway"], "http").GetProperty("targetPort").GetInt32());
            Assert.Equal(50051, Binding(resources["gateway"], "http2").GetProperty("targetPort").GetInt32());
            Assert.Equal("http2", Binding(resources["gateway"], "http2").GetProperty("transport").GetString());
            Assert.True(Binding(resources["gateway"], "http").GetProperty("external").GetBoolean());
            Assert.Equal("http://+:{gateway.bindings.http2.targetPort}", Env(resources["gateway"], "GATEWAY_HTTP2_URL"));

            // Every {resource.…} expression names a resource of the manifest.
            foreach (Match reference in ExpressionReference().Matches(text))
            {
                Assert.True(resources.ContainsKey(reference.Groups[1].Value), $"{reference.Value} names no resource of the manifest.");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string? Type(JsonElement resource) => resource.GetProperty("type").GetString();

    private static string? Env(JsonElement resource, string name) => resource.GetProperty("env").GetProperty(name).GetString();

    private static JsonElement Binding(JsonElement resource, string name) => resource.GetProperty("bindings").GetProperty(name);

    [GeneratedRegex(@"\{([a-z0-9-]+)\.(?:value|connectionString|bindings\.[a-z0-9]+\.[a-zA-Z]+)\}")]
    private static partial Regex ExpressionReference();
}
