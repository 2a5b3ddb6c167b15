using System.Diagnostics;
using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Tests.Llm;

public sealed class GeminiFixture : IAsyncLifetime
{
    public const string ApiKey = "AIzaFAKE-test-key-never-in-logs-123";

    public RedisServer Redis { get; private set; } = null!;

    public FakeGeminiServer Gemini { get; private set; } = null!;

    public LlmServiceHost Host { get; private set; } = null!;

    public CapturingLoggerProvider Logs { get; } = new();

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync().DefaultTimeout();
        Gemini = await FakeGeminiServer.StartAsync().DefaultTimeout();
        Host = await LlmServiceHost.StartAsync(Redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Provider"] = "gemini",
            ["Llm:Gemini:ApiKey"] = ApiKey,
            ["Llm:Gemini:BaseUrl"] = Gemini.BaseUrl,
            ["Llm:Gemini:MaxRetries"] = "2",
            ["Llm:Gemini:MaxRetryDelaySeconds"] = "1",
            ["Logging:LogLevel:Default"] = "Trace",
        }, services => services.AddSingleton<ILoggerProvider>(Logs));
    }

    public async Task DisposeAsync()
    {
        await (Host?.DisposeAsync() ?? ValueTask.CompletedTask);
        await (Gemini?.DisposeAsync() ?? ValueTask.CompletedTask);
        await (Redis?.DisposeAsync() ?? ValueTask.CompletedTask);
    }
}

public sealed class GeminiProviderTests(GeminiFixture fixture) : IClassFixture<GeminiFixture>
{
    private readonly LlmService.LlmServiceClient _client = fixture.Host.CreateClient();
    private readonly FakeGeminiServer _gemini = fixture.Gemini;

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\n")]
    public async Task Turn_StreamsGeminiDeltasInOrderAndAsSent(string lineEnd)
    {
        _gemini.Requests.Clear();
        _gemini.Enqueue(FakeGeminiServer.Stream(
            [FakeGeminiServer.TextEvent("Hel"), FakeGeminiServer.TextEvent("lo, wor"), FakeGeminiServer.TextEvent("ld!", "STOP")], lineEnd, pauseMs: 20));

        var events = await _client.RunTurnAsync(new TurnRequest { Message = "Say hello" }).DefaultTimeout();

        Assert.Equal(["Hel", "lo, wor", "ld!"], events.Where(e => e.Delta is not null).Select(e => e.Delta.Text));
        var completed = events.Completed();
        Assert.Equal("stop", completed.FinishReason);
        Assert.Equal("Hello, world!", completed.FullText);
        Assert.Equal(11, completed.Usage.InputTokens);
        Assert.Equal(7, completed.Usage.OutputTokens);
        Assert.Equal(18, completed.Usage.TotalTokens);
        Assert.Equal("gemini", events[0].Accepted.Provider);

        var request = Assert.Single(_gemini.Requests);
        Assert.Equal("/v1beta/models/gemini-2.0-flash:streamGenerateContent", request.Path);
        Assert.Equal("?alt=sse", request.Query);
    }

    [Fact]
    public async Task Turn_SendsHistoryAsContentsWithUserAndModelRoles_AndTheSystemInstructionApart()
    {
        var session = await _client.CreateSessionAsync(new CreateSessionRequest { SystemInstruction = "You are terse." }).ResponseAsync.DefaultTimeout();
        _gemini.Enqueue(FakeGeminiServer.Stream(FakeGeminiServer.TextEvent("First answer", "STOP")));
        await _client.RunTurnAsync(session.Id, "First question").DefaultTimeout();
        _gemini.Requests.Clear();
        _gemini.Enqueue(FakeGeminiServer.Stream(FakeGeminiServer.TextEvent("Second answer", "STOP")));

        await _client.RunTurnAsync(session.Id, "Second question").DefaultTimeout();

        var body = Assert.Single(_gemini.Requests).Body;
        var contents = body["contents"]!.AsArray();
        Assert.Equal(["user", "model", "user"], contents.Select(c => (string)c!["role"]!));
        Assert.Equal(["First question", "First answer", "Second question"], contents.Select(c => (string)c!["parts"]![0]!["text"]!));
        Assert.Equal("You are terse.", (string)body["systemInstruction"]!["parts"]![0]!["text"]!);
    }

    [Fact]
    public async Task Turn_SendsTheApiKeyAsHeaderOnly_AndNeverLogsIt()
    {
        _gemini.Requests.Clear();
        _gemini.Enqueue(FakeGeminiServer.Stream(FakeGeminiServer.TextEvent("hi", "STOP")));
        _gemini.Enqueue(FakeGeminiServer.Error(400, "INVALID_ARGUMENT"));

        await _client.RunTurnAsync(new TurnRequest { Message = "hello" }).DefaultTimeout();
        await _client.RunTurnAsync(new TurnRequest { Message = "hello again" }).DefaultTimeout();

        Assert.All(_gemini.Requests, request =>
        {
            Assert.Equal(GeminiFixture.ApiKey, request.Headers["x-goog-api-key"]);
            Assert.DoesNotContain("key=", request.Query);
        });
        Assert.NotEmpty(fixture.Logs.Lines);
        Assert.DoesNotContain(fixture.Logs.Lines, line => line.Contains(GeminiFixture.ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Turn_On429WithRetryInfo_WaitsTheDelayAndRetries()
    {
        _gemini.Requests.Clear();
        _gemini.Enqueue(FakeGeminiServer.Error(429, "RESOURCE_EXHAUSTED", retryDelay: "0.3s"));
        _gemini.Enqueue(FakeGeminiServer.Stream(FakeGeminiServer.TextEvent("after the wait", "STOP")));

        var clock = Stopwatch.StartNew();
        var events = await _client.RunTurnAsync(new TurnRequest { Message = "quota?" }).DefaultTimeout();

        Assert.Equal("after the wait", events.Completed().FullText);
        Assert.Equal(2, _gemini.Requests.Count);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(280), $"retried after {clock.Elapsed}");
    }

    [Fact]
    public async Task Turn_On429BeyondTheRetryBudget_SurfacesResourceExhausted()
    {
        _gemini.Requests.Clear();
        for (var i = 0; i < 3; i++)
        {
            _gemini.Enqueue(FakeGeminiServer.Error(429, "RESOURCE_EXHAUSTED", retryDelay: "0.05s"));
        }

        var events = await _client.RunTurnAsync(new TurnRequest { Message = "quota?" }).DefaultTimeout();

        var error = events[^1].Error;
        Assert.Equal("RESOURCE_EXHAUSTED", error.Code);
        Assert.True(error.Retryable);
        Assert.Equal(3, _gemini.Requests.Count);
    }

    [Fact]
    public async Task Turn_On429WithADelayLongerThanAllowed_SurfacesAtOnce()
    {
        _gemini.Requests.Clear();
        _gemini.Enqueue(FakeGeminiServer.Error(429, "RESOURCE_EXHAUSTED", retryDelay: "37s"));

        var events = await _client.RunTurnAsync(new TurnRequest { Message = "quota?" }).DefaultTimeout();

        Assert.Equal("RESOURCE_EXHAUSTED", events[^1].Error.Code);
        Assert.Contains("37 s", events[^1].Error.Message);
        Assert.Single(_gemini.Requests);
    }

    [Theory]
    [InlineData(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", 1)]
    [InlineData(403, "PERMISSION_DENIED", "PERMISSION_DENIED", 1)]
    [InlineData(404, "NOT_FOUND", "NOT_FOUND", 1)]
    [InlineData(500, "INTERNAL", "UNAVAILABLE", 3)]
    [InlineData(503, "UNAVAILABLE", "UNAVAILABLE", 3)]
    public async Task Turn_OnGeminiError_MapsToTheGrpcStatus(int httpStatus, string geminiStatus, string expectedCode, int expectedAttempts)
    {
        _gemini.Requests.Clear();
        for (var i = 0; i < expectedAttempts; i++)
        {
            _gemini.Enqueue(FakeGeminiServer.Error(httpStatus, geminiStatus));
        }

        var session = await _client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        var events = await _client.RunTurnAsync(session.Id, "fail please").DefaultTimeout();

        Assert.Equal(TurnEvent.KindOneofCase.Accepted, events[0].KindCase);
        Assert.Equal(expectedCode, events[^1].Error.Code);
        Assert.DoesNotContain("fake", events[^1].Error.Message);
        Assert.Equal(expectedAttempts, _gemini.Requests.Count);

        // The failure rule: the user message is kept, no half reply, and the turn counts as failed.
        var history = await _client.GetHistoryAsync(new GetHistoryRequest { SessionId = session.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal(["user"], history.Messages.Select(m => m.Role));
    }

    [Fact]
    public async Task Turn_BlockedForSafety_ReachesTheCallerAsContentFilter()
    {
        _gemini.Enqueue(FakeGeminiServer.Stream(FakeGeminiServer.TextEvent("Partial "), FakeGeminiServer.FinishEvent("SAFETY")));

        var events = await _client.RunTurnAsync(new TurnRequest { Message = "something unsafe" }).DefaultTimeout();

        Assert.Equal("content_filter", events.Completed().FinishReason);
    }

    [Fact]
    public async Task Turn_WithABlockedPrompt_CompletesAsContentFilter()
    {
        _gemini.Enqueue(FakeGeminiServer.Stream(
            """{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4},"modelVersion":"gemini-2.0-flash"}"""));

        var events = await _client.RunTurnAsync(new TurnRequest { Message = "blocked prompt" }).DefaultTimeout();

        var completed = events.Completed();
        Assert.Equal("content_filter", completed.FinishReason);
        Assert.Equal(0, completed.TotalChunks);
    }

    [Fact]
    public async Task Turn_WhenGeminiSendsAnErrorEventMidStream_EndsWithThatError_AndStoresNoHalfReply()
    {
        var session = await _client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        _gemini.Enqueue(FakeGeminiServer.Stream(
            FakeGeminiServer.TextEvent("Half a "),
            """{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"""));

        var events = await _client.RunTurnAsync(session.Id, "go on").DefaultTimeout();

        Assert.Equal("Half a ", events.Text());
        Assert.Equal("UNAVAILABLE", events[^1].Error.Code);
        Assert.True(events[^1].Error.Retryable);
        var history = await _client.GetHistoryAsync(new GetHistoryRequest { SessionId = session.Id }).ResponseAsync.DefaultTimeout();
        Assert.Equal(["user"], history.Messages.Select(m => m.Role));
    }

    [Fact]
    public async Task Turn_WhenTheCallerCancelsMidStream_TheGeminiCallIsAborted()
    {
        _gemini.Enqueue(_gemini.Hang("Thinking"));
        using var cancel = new CancellationTokenSource();
        using var call = _client.StreamTurn(new TurnRequest { Message = "long answer please" }, cancellationToken: cancel.Token);

        var seen = new List<TurnEvent>();
        await foreach (var turnEvent in call.ResponseStream.ReadAllAsync().WithCancellation(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
        {
            seen.Add(turnEvent);
            if (turnEvent.Delta is not null)
            {
                break;
            }
        }

        await cancel.CancelAsync();

        await _gemini.ClientAborted.Task.DefaultTimeout();
        Assert.Equal("Thinking", seen[^1].Delta.Text);
    }

    [Fact]
    public async Task Turn_WhenGeminiGoesSilentMidReply_FailsWithDeadlineExceeded_AndAbortsTheCall()
    {
        await using var impatient = await LlmServiceHost.StartAsync(fixture.Redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Provider"] = "gemini",
            ["Llm:Gemini:ApiKey"] = GeminiFixture.ApiKey,
            ["Llm:Gemini:BaseUrl"] = _gemini.BaseUrl,
            ["Llm:ModelIdleTimeout"] = "00:00:01",
        }).DefaultTimeout();
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _gemini.Enqueue(_gemini.Hang("Thinking", aborted));
        var client = impatient.CreateClient();
        var started = Stopwatch.StartNew();

        var events = await client.RunTurnAsync(new TurnRequest { Message = "then nothing" }).DefaultTimeout();

        Assert.Equal("Thinking", events.Single(e => e.Delta is not null).Delta.Text);
        Assert.Equal("DEADLINE_EXCEEDED", events[^1].Error.Code);
        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15));
        await aborted.Task.DefaultTimeout();
        var history = await client.GetHistoryAsync(new GetHistoryRequest { SessionId = events[0].Accepted.SessionId }).ResponseAsync.DefaultTimeout();
        Assert.Equal(["user"], history.Messages.Select(m => m.Role));
    }
}
