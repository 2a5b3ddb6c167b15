using System.Collections.Concurrent;
using System.Diagnostics;
using Chat.Contracts.Llm.V1;
using Chat.Llm.Service.Telemetry;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Chat.Tests.Llm;

[Collection(LlmServiceCollection.Name)]
public sealed class TelemetryTests(LlmServiceFixture fixture)
{
    [Fact]
    public async Task Turn_EmitsAGenAiSpanWithTokenUsage_WithoutContent_AndTimeToFirstTokenInSeconds()
    {
        var model = $"offline-probe-{Guid.NewGuid():N}";
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LlmTelemetry.GenAiSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("gen_ai.request.model"), model))
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var ttft = new MetricCollector<double>(fixture.Host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            LlmTelemetry.MeterName, "gen_ai.server.time_to_first_token");

        var client = fixture.CreateClient();
        var session = await client.CreateSessionAsync(new CreateSessionRequest { ModelId = model }).ResponseAsync.DefaultTimeout();
        var events = await client.RunTurnAsync(session.Id, "a secret sentence").DefaultTimeout();
        await ttft.WaitForMeasurementsAsync(1).DefaultTimeout();

        var span = Assert.Single(spans);
        Assert.Equal("chat", span.GetTagItem("gen_ai.operation.name"));
        Assert.Equal((long)events.Completed().Usage.OutputTokens, Convert.ToInt64(span.GetTagItem("gen_ai.usage.output_tokens"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain(span.TagObjects, tag => tag.Value?.ToString()?.Contains("a secret sentence", StringComparison.Ordinal) == true);
        Assert.Contains(ttft.GetMeasurementSnapshot(), m => Equals(m.Tags["gen_ai.request.model"], model) && m.Value >= 0);
    }

    [Fact]
    public async Task ModelCallSpan_CarriesTimeToFirstChunk_AndAFirstTokenEvent_AndTheTurnSpanItsTimeToFirstToken()
    {
        var model = $"offline-probe-{Guid.NewGuid():N}";
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is LlmTelemetry.ActivitySourceName or LlmTelemetry.GenAiSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("gen_ai.request.model"), model))
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var client = fixture.CreateClient();
        var session = await client.CreateSessionAsync(new CreateSessionRequest { ModelId = model }).ResponseAsync.DefaultTimeout();
        await client.RunTurnAsync(session.Id, "hello").DefaultTimeout();
        // The turn span ends just after the completion event reaches the caller.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!spans.Any(s => s.OperationName == "chat.turn") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        // The model call (what the dashboard's GenAI view lists): provider, the semantic conventions' time to first
        // chunk, and an event where the first token arrived, no earlier than the chunk.
        var call = Assert.Single(spans, s => s.Source.Name == LlmTelemetry.GenAiSourceName);
        Assert.Equal("offline", call.GetTagItem("gen_ai.provider.name"));
        var firstChunk = Assert.IsType<double>(call.GetTagItem("gen_ai.response.time_to_first_chunk"));
        Assert.InRange(firstChunk, 0, call.Duration.TotalSeconds);
        var firstToken = Assert.Single(call.Events, e => e.Name == FirstTokenTelemetryChatClient.FirstTokenEvent);
        Assert.InRange(firstToken.Timestamp.UtcDateTime, call.StartTimeUtc, call.StartTimeUtc + call.Duration);
        var eventSeconds = Assert.IsType<double>(firstToken.Tags.Single(t => t.Key == FirstTokenTelemetryChatClient.TimeToFirstTokenAttribute).Value);
        Assert.InRange(eventSeconds, 0, call.Duration.TotalSeconds);

        // The turn: from its start, so at least the model's own wait.
        var turn = Assert.Single(spans, s => s.OperationName == "chat.turn");
        var seconds = Assert.IsType<double>(turn.GetTagItem(FirstTokenTelemetryChatClient.TimeToFirstTokenAttribute));
        Assert.InRange(seconds, 0, turn.Duration.TotalSeconds);
        Assert.Equal(turn.TraceId, call.TraceId);
    }
}
