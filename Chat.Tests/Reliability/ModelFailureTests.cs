using System.Diagnostics;
using System.Net;
using Chat.Contracts.Llm.V1;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Chat.Tests.Llm;
using Xunit.Abstractions;

namespace Chat.Tests.Reliability;

/// <summary>The whole graph in front of a failing model (the fake Gemini server): bounded retries, the error reaches the client, other sessions go on.</summary>
public sealed class ModelFailureTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string GeminiKey = "fake-gemini-key-d41d8cd98f00";
    private FakeGeminiServer _gemini = null!;
    private DistributedApplication _app = null!;

    public async Task InitializeAsync()
    {
        _gemini = await FakeGeminiServer.StartAsync().DefaultTimeout();
        var appHost = await ChatAppHost.CreateAsync(["--replicas", "llm=1,sse=1"], new Dictionary<string, string?>
            {
                ["Llm:Provider"] = "gemini",
                ["Llm:Gemini:BaseUrl"] = _gemini.BaseUrl,
                ["Llm:Gemini:MaxRetries"] = "1",
                ["GEMINI_API_KEY"] = GeminiKey,
            }, output: output).DefaultTimeout();
        _app = await appHost.BuildAsync().DefaultTimeout();
        await _app.StartAsync().DefaultTimeout();
        await _app.WaitForAllResourcesHealthyAsync().WaitAsync(TimeSpan.FromSeconds(90));
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _gemini.DisposeAsync();
    }

    [Fact]
    public async Task ModelFailing_RetriesAreBounded_TheClientSeesTheError_AndOtherSessionsAreUnaffected()
    {
        using var rest = _app.CreateHttpClient("rest", "http");
        using var good = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "first" }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        var healthySession = (await good.ReadJsonObjectAsync()).Str("session_id")!;

        _gemini.Requests.Clear();
        _gemini.Enqueue(FakeGeminiServer.Error(500, "INTERNAL"));
        _gemini.Enqueue(FakeGeminiServer.Error(500, "INTERNAL"));
        var started = Stopwatch.GetTimestamp();
        using var failed = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "fail please" }).Content).DefaultTimeout();
        await failed.AssertProblemAsync(503);
        Assert.Equal(2, _gemini.Requests.Count); // one try + Llm:Gemini:MaxRetries = 1
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(15));

        // Quota: 429 beyond the budget is 429 + Retry-After for the client.
        _gemini.Enqueue(FakeGeminiServer.Error(429, "RESOURCE_EXHAUSTED", "600s"));
        using var quota = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "quota" }).Content).DefaultTimeout();
        await quota.AssertProblemAsync(429);
        Assert.NotNull(quota.Headers.RetryAfter);

        // The other session goes on as if nothing happened.
        using var again = await rest.PostAsync("/chat", HttpStreams.PostJson("", new { message = "second", session_id = healthySession }).Content).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        using var channel = await _app.CreateGrpcChannelAsync("llm");
        var history = await new LlmService.LlmServiceClient(channel)
            .GetHistoryAsync(new GetHistoryRequest { SessionId = healthySession }).ResponseAsync.DefaultTimeout();
        Assert.Equal(new[] { "user", "model", "user", "model" }, history.Messages.Select(m => m.Role));

        // The Gemini key reaches the model only: sent as a header to it, given to llm alone, never logged.
        Assert.All(_gemini.Requests, r => Assert.Equal(GeminiKey, r.Headers["x-goog-api-key"]));
        foreach (var resource in new[] { "rest", "streaming", "sse", "websocket", "grpc", "gateway" })
        {
            Assert.DoesNotContain(_app.GetResourceSnapshots(resource)[0].Environment, e => e.Key.Contains("GEMINI", StringComparison.Ordinal));
        }

        var logs = new System.Text.StringBuilder();
        foreach (var resource in _app.ProcessResources())
        {
            logs.AppendLine(await _app.GetConsoleLogAsync(resource.Name, 10_000));
            if (_app.GetResourceSnapshots(resource.Name).First().ProcessId is { } pid)
            {
                // The process's real environment, not what the AppHost declared: nothing may inherit the key.
                var environment = File.ReadAllText($"/proc/{pid}/environ");
                Assert.True(resource.Name == "llm" || !environment.Contains(GeminiKey, StringComparison.Ordinal), $"{resource.Name} has the Gemini key");
            }
        }

        Assert.DoesNotContain(GeminiKey, logs.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("fail please", logs.ToString(), StringComparison.Ordinal);
    }
}
