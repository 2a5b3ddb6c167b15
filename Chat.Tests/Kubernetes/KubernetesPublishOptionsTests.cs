using k8s.Models;

namespace Chat.Tests.Kubernetes;

/// <summary>The same command line and configuration that shape a local run shape the published manifests.</summary>
public sealed class KubernetesPublishOptionsTests
{
    [Fact]
    public async Task Publish_WithReplicasOnTheCommandLine_ChangesDeploymentsAndAutoscalerFloors()
    {
        using var manifests = await PublishedManifests.PublishAsync("--replicas", "sse=3,websocket=2", "--Replicas:rest=4");

        Assert.Equal(3, manifests.Deployment("sse").Spec.Replicas);
        Assert.Equal(2, manifests.Deployment("websocket").Spec.Replicas);
        Assert.Equal(4, manifests.Deployment("rest").Spec.Replicas);
        Assert.Equal(1, manifests.Deployment("streaming").Spec.Replicas);
        Assert.Equal(3, manifests.All<V2HorizontalPodAutoscaler>().Single(a => a.Metadata.Name == "sse").Spec.MinReplicas);
    }

    [Fact]
    public async Task Publish_NeverWritesASecretValue_OnlySecretReferences()
    {
        const string gemini = "fake-gemini-key-7f3a9c";
        const string openAi = "fake-openai-key-51d0e2";
        const string gatewayKey = "fake-gateway-key-c4b8a1";
        const string redisPassword = "fake-redis-password-93e7";

        using var manifests = await PublishedManifests.PublishAsync(
            $"--GEMINI_API_KEY={gemini}",
            $"--Llm:OpenAI:ApiKey={openAi}",
            $"--Gateway:ApiKeys:alice:Key={gatewayKey}",
            $"--ConnectionStrings:redis=redis.example.com:6380,password={redisPassword},ssl=true");

        foreach (var (file, text) in manifests.Files)
        {
            foreach (var secret in new[] { gemini, openAi, gatewayKey, redisPassword, "redis.example.com" })
            {
                Assert.False(text.Contains(secret, StringComparison.Ordinal), $"{file} contains the secret value {secret}.");
            }
        }

        var llm = manifests.EnvironmentOf(manifests.Deployment("llm"));
        AssertSecretReference(llm["GEMINI_API_KEY"], "llm-secrets", "GEMINI_API_KEY", optional: true);
        AssertSecretReference(llm["Llm__OpenAI__ApiKey"], "llm-secrets", "Llm__OpenAI__ApiKey", optional: false);
        // The external Redis is Aspire's connection-string parameter: a secret of the one service that reads it.
        AssertSecretReference(llm["ConnectionStrings__redis"], "llm-secrets", "ConnectionStrings__redis", optional: false);
        AssertSecretReference(llm["Llm__InternalApiKey"], "llm-internal-key", "value", optional: false);
        AssertSecretReference(manifests.EnvironmentOf(manifests.Deployment("gateway"))["Gateway__ApiKeys__alice__Key"], "gateway-secrets", "Gateway__ApiKeys__alice__Key", optional: false);
        // No Redis of the model, no password: nothing refers to one.
        Assert.DoesNotContain(manifests.Files.Values, text => text.Contains("redis-password", StringComparison.Ordinal));

        // An external Redis is used, not deployed.
        Assert.Empty(manifests.All<V1StatefulSet>());
        Assert.DoesNotContain(manifests.All<V1Service>(), s => s.Metadata.Name == "redis");
        Assert.Empty(manifests.All<V1Secret>());
    }

    [Fact]
    public async Task Publish_WithRegistryTagOtlpAndIngress_UsesThemEverywhere()
    {
        using var manifests = await PublishedManifests.PublishAsync(
            "--Publish:Registry=registry.example.com/team", "--Publish:ImageTag=2.1.0",
            "--Publish:OtlpEndpoint=http://otel-collector.observability:4317", "--Publish:IngressHost=chat.example.com",
            "--Publish:Namespace=chat", "--Publish:StreamDrainSeconds=300");

        Assert.Equal("registry.example.com/team/chat/sse:2.1.0", manifests.Deployment("sse").Spec.Template.Spec.Containers.Single().Image);
        Assert.Equal("http://otel-collector.observability:4317", manifests.EnvironmentOf(manifests.Deployment("rest"))["OTEL_EXPORTER_OTLP_ENDPOINT"].Value);
        Assert.DoesNotContain(manifests.All<V1Deployment>(), d => d.Metadata.Name == "dashboard");
        var rule = Assert.Single(Assert.Single(manifests.All<V1Ingress>()).Spec.Rules);
        Assert.Equal("chat.example.com", rule.Host);
        Assert.Equal(8000, rule.Http.Paths.Single().Backend.Service.Port.Number);
        Assert.Contains("namespace: chat", manifests.Files["kustomization.yaml"], StringComparison.Ordinal);
        Assert.True(manifests.Deployment("sse").Spec.Template.Spec.TerminationGracePeriodSeconds > 300);
    }

    [Fact]
    public async Task Publish_ChangedConfiguration_ChangesThePodTemplate_SoPodsRoll()
    {
        using var before = await PublishedManifests.PublishAsync();
        using var after = await PublishedManifests.PublishAsync("--Llm:Offline:InterTokenDelayMs=5", "--Llm:Offline:ReplyTokens=7");

        // Plain settings, not secrets, although their names mention tokens.
        Assert.Equal("5", after.ConfigMap("llm-config").Data["Llm__Offline__InterTokenDelayMs"]);
        Assert.Equal("7", after.ConfigMap("llm-config").Data["Llm__Offline__ReplyTokens"]);
        // (Llm__InternalApiKey is a secret: a secretKeyRef, never a ConfigMap value; docs/reliability.md.)
        Assert.DoesNotContain(after.Deployment("llm").Spec.Template.Spec.Containers.Single().Env,
            e => e.Name.StartsWith("Llm__", StringComparison.Ordinal) && e.ValueFrom?.SecretKeyRef is null);
        Assert.NotEqual(Hash(before.Deployment("llm")), Hash(after.Deployment("llm")));
        Assert.Equal(Hash(before.Deployment("rest")), Hash(after.Deployment("rest")));

        static string Hash(V1Deployment deployment) => deployment.Spec.Template.Metadata.Annotations["chat/config-sha256"];
    }

    [Fact]
    public async Task Publish_WithAnInvalidSetting_FailsWithTheSettingsName_AndANonZeroExitCode()
    {
        var directory = Directory.CreateTempSubdirectory("chat-k8s-invalid-").FullName;
        try
        {
            var (exitCode, output) = await PublishedManifests.RunAppHostProcessAsync(
                ["publish", "--target", "kubernetes", "--output", directory, "--Publish:ExternalServiceType=Public"]);

            Assert.NotEqual(0, exitCode);
            Assert.Contains("Publish:ExternalServiceType is 'Public': expected LoadBalancer, NodePort or ClusterIP.", output, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFiles(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Publish_WithAnUnknownTarget_NamesTheChoices()
    {
        var (exitCode, output) = await PublishedManifests.RunAppHostProcessAsync(["publish", "--target", "nomad"]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("publish --target nomad: expected kubernetes or compose", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publish_WithoutTargetOrOutput_WritesKubernetesManifestsToDeployK8s()
    {
        var directory = Directory.CreateTempSubdirectory("chat-k8s-default-").FullName;
        try
        {
            await PublishedManifests.RunAppHostAsync(["publish"], workingDirectory: directory);

            Assert.True(File.Exists(Path.Combine(directory, "deploy", "k8s", "kustomization.yaml")));
            Assert.True(File.Exists(Path.Combine(directory, "deploy", "k8s", "sse-deployment.yaml")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void AssertSecretReference(V1EnvVar variable, string secret, string key, bool optional)
    {
        Assert.Null(variable.Value);
        Assert.Equal(secret, variable.ValueFrom.SecretKeyRef.Name);
        Assert.Equal(key, variable.ValueFrom.SecretKeyRef.Key);
        Assert.Equal(optional, variable.ValueFrom.SecretKeyRef.Optional ?? false);
    }
}
