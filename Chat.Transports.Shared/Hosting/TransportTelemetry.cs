using System.Diagnostics;
using System.Diagnostics.Metrics;
using Chat.Contracts.Llm.V1;

namespace Chat.Transports.Shared.Hosting;

/// <summary>
/// The HTTP transports' own spans and metrics (the gRPC client and ASP.NET Core instrumentation cover the calls
/// themselves): one span per streamed turn, time to the first chunk as the client gets it, open streams, streams
/// dropped.
/// </summary>
public sealed class TransportTelemetry
{
    public const string Name = "Chat.Transports";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Histogram<double> _timeToFirstChunk;
    private readonly Histogram<double> _streamDuration;
    private readonly Counter<long> _streams;
    private readonly Counter<long> _streamsDropped;
    private long _streamsDroppedCount;

    public TransportTelemetry(IMeterFactory meterFactory, ConnectionCounter connections)
    {
        var meter = meterFactory.Create(Name);
        _timeToFirstChunk = meter.CreateHistogram<double>(
            "chat.stream.time_to_first_chunk", "s", "From the request's arrival to the first chunk written to the client");
        _streamDuration = meter.CreateHistogram<double>("chat.stream.duration", "s", "How long a streamed turn stayed open");
        _streams = meter.CreateCounter<long>("chat.stream.count", "{stream}", "Streams by protocol and outcome");
        _streamsDropped = meter.CreateCounter<long>(
            "chat.transport.streams.dropped", "{stream}", "Streams this replica dropped, by protocol and reason (slow_reader: a write stayed pending too long)");
        meter.CreateObservableUpDownCounter("chat.stream.active", () => connections.Current, "{stream}", "Streams open on this replica");
    }

    /// <summary>A span for one turn streamed to a client (protocol: "ndjson", "sse", "rest").</summary>
    public static Activity? StartTurn(string protocol, TurnAccepted accepted, string turnId)
    {
        var activity = ActivitySource.StartActivity($"chat.{protocol}.turn");
        if (activity is not null)
        {
            activity.SetTag("chat.protocol", protocol);
            activity.SetTag("chat.session.id", accepted.SessionId);
            activity.SetTag("chat.turn.id", turnId);
            activity.SetTag("gen_ai.request.model", accepted.Model);
        }

        return activity;
    }

    /// <summary>Streams dropped since start, every protocol and reason (for /stats).</summary>
    public long StreamsDropped => Interlocked.Read(ref _streamsDroppedCount);

    /// <summary>Counts a stream this replica ended because of the client (reason "slow_reader", "queue_full").</summary>
    public void StreamDropped(string protocol, string reason)
    {
        Interlocked.Increment(ref _streamsDroppedCount);
        _streamsDropped.Add(1, new KeyValuePair<string, object?>("chat.protocol", protocol), new KeyValuePair<string, object?>("reason", reason));
    }

    public void FirstChunk(string protocol, long requestStartedTimestamp) =>
        _timeToFirstChunk.Record(Stopwatch.GetElapsedTime(requestStartedTimestamp).TotalSeconds, new KeyValuePair<string, object?>("chat.protocol", protocol));

    /// <summary>
    /// Ends a streamed turn: outcome "completed", "error" (the turn's or the call's), "client_left", or "dropped" (the
    /// client stopped reading, see StreamWriteWatchdog).
    /// </summary>
    public void TurnEnded(Activity? activity, string protocol, string outcome, int chunks, long startedTimestamp)
    {
        var protocolTag = new KeyValuePair<string, object?>("chat.protocol", protocol);
        var outcomeTag = new KeyValuePair<string, object?>("chat.outcome", outcome);
        _streams.Add(1, protocolTag, outcomeTag);
        _streamDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, protocolTag, outcomeTag);
        if (activity is not null)
        {
            activity.SetTag("chat.outcome", outcome);
            activity.SetTag("chat.chunks", chunks);
            if (outcome == "error")
            {
                activity.SetStatus(ActivityStatusCode.Error);
            }
        }
    }
}
