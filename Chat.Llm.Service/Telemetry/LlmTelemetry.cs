using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Chat.Llm.Service.Telemetry;

/// <summary>The service's ActivitySource and its metrics (OpenTelemetry GenAI names where they fit, unit s).</summary>
public sealed class LlmTelemetry : IDisposable
{
    public const string ActivitySourceName = "Chat.Llm.Service";

    /// <summary>The source of the gen_ai spans the Microsoft.Extensions.AI pipeline emits for each model call.</summary>
    public const string GenAiSourceName = "Chat.Llm.Service.GenAI";

    public const string MeterName = "Chat.Llm.Service";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    private readonly Meter _meter;

    public LlmTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        TimeToFirstToken = _meter.CreateHistogram<double>("gen_ai.server.time_to_first_token", "s",
            "Time from the start of a turn to its first text chunk.");
        RequestDuration = _meter.CreateHistogram<double>("gen_ai.server.request.duration", "s",
            "Duration of a whole turn, from acceptance to the stored reply.");
        TimePerOutputToken = _meter.CreateHistogram<double>("gen_ai.server.time_per_output_token", "s",
            "Time per output token after the first.");
        Turns = _meter.CreateCounter<long>("chat.llm.turns", "{turn}", "Turns by outcome.");
        ActiveTurns = _meter.CreateUpDownCounter<long>("chat.llm.active_turns", "{turn}", "Turns running on this replica.");
    }

    public Histogram<double> TimeToFirstToken { get; }

    public Histogram<double> RequestDuration { get; }

    public Histogram<double> TimePerOutputToken { get; }

    public Counter<long> Turns { get; }

    public UpDownCounter<long> ActiveTurns { get; }

    public void Dispose() => _meter.Dispose();
}
