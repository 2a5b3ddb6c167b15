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
    public async Task Turn_SpanCarriesTimeToFirstToken_AsAttributeAndEvent()
    {
        var model = $"offline-probe-{Guid.NewGuid():N}";
        var turns = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LlmTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == "chat.turn" && Equals(activity.GetTagItem("gen_ai.request.model"), model))
                {
                    turns.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var client = fixture.CreateClient();
        var session = await client.CreateSessionAsync(new CreateSessionRequest { ModelId = model }).ResponseAsync.DefaultTimeout();
        await client.RunTurnAsync(session.Id, "hello").DefaultTimeout();
        // The turn span ends just after the completion event reaches the caller.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (turns.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        var turn = Assert.Single(turns);
        var seconds = Assert.IsType<double>(turn.GetTagItem("gen_ai.server.time_to_first_token"));
        Assert.InRange(seconds, 0, turn.Duration.TotalSeconds);
        Assert.Contains(turn.Events, e => e.Name == "gen_ai.first_token");
    }
}
