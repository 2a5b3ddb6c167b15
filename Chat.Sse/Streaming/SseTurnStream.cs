using System.Diagnostics;
using System.Reflection;
using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Errors;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Streaming;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Chat.Sse.Streaming;

/// <summary>
/// Writes a turn's events as SSE frames carrying the original's JSON objects, from the first event already read
/// (so refusals could still be answered with a status code) to the turn's end. Used by the original-compatible
/// <c>POST /chat/stream</c> and by the resumable <c>GET /chat/turns/{id}/events</c> alike: ids, chunk numbers and
/// totals come from the turn's own sequence numbers, so a stream resumed on any replica continues exactly.
/// <para>
/// Chunks go out the moment each delta arrives with <c>is_final: false</c>; an empty chunk with <c>is_final: true</c>
/// precedes <c>complete</c> (a delta is only known to be the last when the completion follows it).
/// </para>
/// </summary>
public sealed partial class SseTurnStream : IResult, IEndpointMetadataProvider
{
    public const string ContentType = "text/event-stream";

    private const string Protocol = "sse";

    /// <summary>The most events one flush carries when they arrive faster than they can be written.</summary>
    private const int MaxEventsPerFlush = 64;

    private static ReadOnlySpan<byte> SessionInfoEvent => "session_info"u8;
    private static ReadOnlySpan<byte> StatusEvent => "status"u8;
    private static ReadOnlySpan<byte> ChunkEvent => "chunk"u8;
    private static ReadOnlySpan<byte> CompleteEvent => "complete"u8;
    private static ReadOnlySpan<byte> ErrorEvent => "error"u8;
    private static ReadOnlySpan<byte> ResumeEvent => "resume"u8;

    private readonly AsyncServerStreamingCall<TurnEvent> _call;
    private readonly TurnEvent _first;
    private readonly TurnAccepted _accepted;
    private readonly string _turnId;
    private readonly int _skipFrames;
    private readonly long? _startedTimestamp;
    private readonly string _epoch;
    private readonly ResumeStatus? _resume;

    /// <param name="call">The turn's event stream, positioned after <paramref name="first"/>.</param>
    /// <param name="first">The first event to write.</param>
    /// <param name="accepted">The turn's accepted event (the session it runs on), also when resuming past it.</param>
    /// <param name="skipFrames">Frames of <paramref name="first"/> the client already has (from a Last-Event-ID).</param>
    /// <param name="startedTimestamp">When this request started, for processing_time; null uses the model's time (resumed streams).</param>
    /// <param name="epoch">The turn's resume buffer (every id carries it).</param>
    /// <param name="resume">The answer to a resume: said first, in a <c>resume</c> event without id.</param>
    public SseTurnStream(
        AsyncServerStreamingCall<TurnEvent> call, TurnEvent first, TurnAccepted accepted, int skipFrames, long? startedTimestamp,
        string epoch, ResumeStatus? resume = null)
    {
        _call = call;
        _first = first;
        _accepted = accepted;
        _turnId = first.TurnId;
        _skipFrames = skipFrames;
        _startedTimestamp = startedTimestamp;
        _epoch = epoch;
        _resume = resume;
    }

    public async Task ExecuteAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var logger = services.GetRequiredService<ILogger<SseTurnStream>>();
        var options = services.GetRequiredService<IOptions<SseOptions>>().Value;
        var telemetry = services.GetRequiredService<TransportTelemetry>();
        var streamStarted = _startedTimestamp ?? Stopwatch.GetTimestamp();
        using var activity = TransportTelemetry.StartTurn(Protocol, _accepted, _turnId);
        var outcome = "client_left";
        var chunks = 0;
        var firstChunkSeen = false;
        using var lease = services.GetRequiredService<ConnectionCounter>().Open();
        using var call = _call;
        var cancellationToken = context.RequestAborted;

        context.Response.StartStreaming(ContentType);
        using var watchdog = StreamWriteWatchdog.For(context, Protocol);
        await using var writer = new SseEventWriter(context.Response.BodyWriter, _turnId, options.HeartbeatInterval, watchdog, cancellationToken, _epoch);
        Log.StreamStarted(logger, _turnId, _first.Sequence, _skipFrames);

        try
        {
            await writer.StartAsync(options.RetryInterval);
            if (_resume is { } resume)
            {
                // Before any event of the resumed turn: whether every later one follows. No id, so it never moves the
                // client's resume point.
                await writer.BeginAsync(cancellationToken);
                WriteResume(writer.BeginFrame(ResumeEvent, -1, 0), resume);
                writer.EndFrame();
                await writer.EndAsync(cancellationToken);
            }

            var turnEvent = _first;
            var skip = _skipFrames;
            while (true)
            {
                await writer.BeginAsync(cancellationToken);
                // This event and every one already received behind it (they arrived while the last write was in
                // flight) go out in one flush; nothing waits for an event that is not already here.
                bool ended;
                Task<bool>? next = null;
                var coalesced = 0;
                while (true)
                {
                    ended = Render(writer, turnEvent, skip);
                    skip = 0;
                    if (turnEvent.KindCase == TurnEvent.KindOneofCase.Delta)
                    {
                        chunks++;
                    }

                    if (ended || ++coalesced == MaxEventsPerFlush)
                    {
                        break;
                    }

                    next = call.ResponseStream.MoveNext(cancellationToken);
                    if (!next.IsCompletedSuccessfully || !next.Result)
                    {
                        break;
                    }

                    next = null;
                    turnEvent = call.ResponseStream.Current;
                }

                await writer.EndAsync(cancellationToken);
                if (chunks > 0 && !firstChunkSeen)
                {
                    firstChunkSeen = true;
                    if (_startedTimestamp is { } requestStarted)
                    {
                        telemetry.FirstChunk(Protocol, requestStarted);
                    }
                }

                if (ended)
                {
                    outcome = turnEvent.KindCase == TurnEvent.KindOneofCase.Completed ? "completed" : "error";
                    await call.EndAfterLastEventAsync(cancellationToken);
                    return;
                }

                if (!await (next ?? call.ResponseStream.MoveNext(cancellationToken)))
                {
                    break;
                }

                turnEvent = call.ResponseStream.Current;
            }

            // The LLM service ended the stream without completing the turn.
            outcome = "error";
            await WriteFailureAsync(writer, StatusCode.Unavailable, cancellationToken);
        }
        catch (RpcException exception) when (!cancellationToken.IsCancellationRequested)
        {
            Log.StreamFailed(logger, _turnId, LlmProblems.StatusName(exception.StatusCode));
            outcome = "error";
            await WriteFailureAsync(writer, exception.StatusCode, cancellationToken);
        }
        catch (Exception exception) when (exception is OperationCanceledException or RpcException or IOException)
        {
            // The client left, or was dropped for not reading. The turn runs on (detach): a reconnect with
            // Last-Event-ID picks it up, and the reply is stored whole when it ends.
            if (watchdog.Dropped)
            {
                outcome = "dropped";
            }
            else
            {
                Log.ClientDisconnected(logger, _turnId);
            }
        }
        finally
        {
            telemetry.TurnEnded(activity, Protocol, outcome, chunks, streamStarted);
        }
    }

    /// <summary>Writes the frames of one turn event, skipping the first <paramref name="skip"/>; true when the turn ended.</summary>
    private bool Render(SseEventWriter writer, TurnEvent turnEvent, int skip)
    {
        var sequence = turnEvent.Sequence;
        switch (turnEvent.KindCase)
        {
            case TurnEvent.KindOneofCase.Accepted:
                if (skip < 1)
                {
                    OriginalEvents.WriteSessionInfo(writer.BeginFrame(SessionInfoEvent, sequence, 1), _accepted, _turnId, withTimestamp: false);
                    writer.EndFrame();
                }

                OriginalEvents.WriteStatus(writer.BeginFrame(StatusEvent, sequence, 0), _accepted, withTimestamp: false);
                writer.EndFrame();
                return false;

            case TurnEvent.KindOneofCase.Delta:
                OriginalEvents.WriteChunk(writer.BeginFrame(ChunkEvent, sequence, 0), turnEvent.Delta.Text, turnEvent.Delta.Index, isFinal: false, withTimestamp: false, turnEvent.Delta.EmittedAtTicks);
                writer.EndFrame();
                return false;

            case TurnEvent.KindOneofCase.Completed:
                var completed = turnEvent.Completed;
                var totalChunks = completed.TotalChunks + 1;
                if (skip < 1)
                {
                    OriginalEvents.WriteChunk(writer.BeginFrame(ChunkEvent, sequence, 1), "", totalChunks, isFinal: true, withTimestamp: false);
                    writer.EndFrame();
                }

                var seconds = _startedTimestamp is { } started ? Stopwatch.GetElapsedTime(started).TotalSeconds : completed.TotalSeconds;
                OriginalEvents.WriteComplete(writer.BeginFrame(CompleteEvent, sequence, 0), completed, totalChunks, seconds, _accepted.SessionId, _turnId, withTimestamp: false);
                writer.EndFrame();
                return true;

            case TurnEvent.KindOneofCase.Error:
                var error = turnEvent.Error;
                OriginalEvents.WriteError(writer.BeginFrame(ErrorEvent, sequence, 0), error.Message, _accepted.SessionId, error.Code, error.Retryable, withTimestamp: false);
                writer.EndFrame();
                return true;

            default:
                return false;
        }
    }

    /// <summary><c>{type:"resume", turn_id, recovered, reason?, epoch}</c> (docs/resume.md).</summary>
    private void WriteResume(System.Text.Json.Utf8JsonWriter json, ResumeStatus resume)
    {
        json.WriteStartObject();
        json.WriteString("type", "resume");
        json.WriteString("turn_id", _turnId);
        json.WriteBoolean("recovered", resume.Recovered);
        if (!resume.Recovered)
        {
            json.WriteString("reason", resume.Reason);
        }

        json.WriteString("epoch", resume.Epoch);
        json.WriteEndObject();
    }

    /// <summary>
    /// A failure of the transport's own call (not an event of the turn): an error frame without id, so a client that
    /// reconnects still resumes after the last real event.
    /// </summary>
    private async Task WriteFailureAsync(SseEventWriter writer, StatusCode code, CancellationToken cancellationToken)
    {
        try
        {
            await writer.BeginAsync(cancellationToken);
            OriginalEvents.WriteError(
                writer.BeginFrame(ErrorEvent, -1, 0),
                LlmProblems.UserDetail(code, null),
                _accepted.SessionId,
                LlmProblems.StatusName(code),
                retryable: true,
                withTimestamp: false);
            writer.EndFrame();
            await writer.EndAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(string), [ContentType]));

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "SSE stream of turn {TurnId} started at sequence {Sequence} (skipping {Skip} frames)")]
        public static partial void StreamStarted(ILogger logger, string turnId, long sequence, int skip);

        [LoggerMessage(2, LogLevel.Warning, "SSE stream of turn {TurnId} failed with {Code}")]
        public static partial void StreamFailed(ILogger logger, string turnId, string code);

        [LoggerMessage(3, LogLevel.Information, "Client left the SSE stream of turn {TurnId}")]
        public static partial void ClientDisconnected(ILogger logger, string turnId);
    }
}
