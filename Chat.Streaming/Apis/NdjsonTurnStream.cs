using System.Buffers;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Errors;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Streaming;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Metadata;

namespace Chat.Streaming.Apis;

/// <summary>
/// Writes an accepted turn as the original's NDJSON lines. Each line is serialized straight into the response pipe
/// and flushed on its own, so a model delta reaches the client as soon as the LLM service sends it.
/// <para>
/// <c>is_final</c>: the original set it on the last text chunk. A delta is only known to be the last when the
/// completion arrives after it, and holding each chunk back until the next one would delay every token; so every
/// text chunk goes out at once with <c>is_final: false</c>, and one more chunk with empty text and
/// <c>is_final: true</c> precedes <c>complete</c> (<c>total_chunks</c> counts it).
/// </para>
/// </summary>
public sealed partial class NdjsonTurnStream(AsyncServerStreamingCall<TurnEvent> call, TurnEvent accepted, long startedTimestamp)
    : IResult, IEndpointMetadataProvider
{
    public const string ContentType = "application/x-ndjson";

    private const string Protocol = "ndjson";

    /// <summary>The most lines one flush carries when deltas arrive faster than they can be written.</summary>
    private const int MaxLinesPerFlush = 64;

    public async Task ExecuteAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var logger = services.GetRequiredService<ILogger<NdjsonTurnStream>>();
        var telemetry = services.GetRequiredService<TransportTelemetry>();
        using var lease = services.GetRequiredService<ConnectionCounter>().Open();
        using var turnCall = call;
        var cancellationToken = context.RequestAborted;
        var session = accepted.Accepted;
        var turnId = accepted.TurnId;

        context.Response.StartStreaming(ContentType);
        var pipe = context.Response.BodyWriter;
        using var watchdog = StreamWriteWatchdog.For(context, Protocol);
        await using var json = new Utf8JsonWriter(pipe, OriginalEvents.WriterOptions);
        var chunks = 0;
        var outcome = "client_left";
        using var activity = TransportTelemetry.StartTurn(Protocol, session, turnId);

        try
        {
            OriginalEvents.WriteSessionInfo(json, session, turnId, withTimestamp: true);
            EndLine(json, pipe);
            OriginalEvents.WriteStatus(json, session, withTimestamp: true);
            EndLine(json, pipe);
            await watchdog.FlushAsync(pipe, cancellationToken);
            Log.StreamStarted(logger, turnId, session.SessionId);

            var pending = 0;
            while (true)
            {
                // A delta already received when the last one was written (it arrived while that write was in flight)
                // goes out with it in one flush; one that is not here yet is never waited for.
                var next = turnCall.ResponseStream.MoveNext(cancellationToken);
                if (pending > 0 && (!next.IsCompletedSuccessfully || pending == MaxLinesPerFlush))
                {
                    await watchdog.FlushAsync(pipe, cancellationToken);
                    pending = 0;
                }

                if (!await next)
                {
                    break;
                }

                var turnEvent = turnCall.ResponseStream.Current;
                switch (turnEvent.KindCase)
                {
                    case TurnEvent.KindOneofCase.Delta:
                        OriginalEvents.WriteChunk(json, turnEvent.Delta.Text, ++chunks, isFinal: false, withTimestamp: true, turnEvent.Delta.EmittedAtTicks);
                        EndLine(json, pipe);
                        pending++;
                        if (chunks == 1)
                        {
                            telemetry.FirstChunk(Protocol, startedTimestamp);
                        }

                        continue;
                    case TurnEvent.KindOneofCase.Completed:
                        OriginalEvents.WriteChunk(json, "", ++chunks, isFinal: true, withTimestamp: true);
                        EndLine(json, pipe);
                        var elapsed = Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds;
                        OriginalEvents.WriteComplete(json, turnEvent.Completed, chunks, elapsed, session.SessionId, turnId, withTimestamp: true);
                        Log.StreamCompleted(logger, turnId, chunks, elapsed);
                        outcome = "completed";
                        break;
                    case TurnEvent.KindOneofCase.Error:
                        OriginalEvents.WriteError(json, turnEvent.Error.Message, session.SessionId, turnEvent.Error.Code, turnEvent.Error.Retryable, withTimestamp: true);
                        Log.StreamFailed(logger, turnId, turnEvent.Error.Code);
                        outcome = "error";
                        break;
                    default:
                        continue;
                }

                EndLine(json, pipe);
                await watchdog.FlushAsync(pipe, cancellationToken);
                pending = 0;
                if (turnEvent.KindCase is TurnEvent.KindOneofCase.Completed or TurnEvent.KindOneofCase.Error)
                {
                    await turnCall.EndAfterLastEventAsync(cancellationToken);
                    return;
                }
            }

            if (pending > 0)
            {
                await watchdog.FlushAsync(pipe, cancellationToken);
            }

            // The LLM service ended the stream without completing the turn.
            outcome = "error";
            await WriteErrorAsync(json, pipe, watchdog, StatusCode.Unavailable, session.SessionId, cancellationToken);
        }
        catch (RpcException exception) when (!cancellationToken.IsCancellationRequested)
        {
            // After the stream started, a failure is an error line (the conventions' mapping as code), then the end.
            Log.StreamFailed(logger, turnId, LlmProblems.StatusName(exception.StatusCode));
            outcome = "error";
            await WriteErrorAsync(json, pipe, watchdog, exception.StatusCode, session.SessionId, cancellationToken);
        }
        catch (Exception exception) when (exception is OperationCanceledException or RpcException or IOException)
        {
            // The client went away, or was dropped for not reading: the gRPC call is cancelled with the request, which
            // stops the model (detach=false), so nothing of the turn is stored as a reply.
            if (watchdog.Dropped)
            {
                outcome = "dropped";
            }
            else
            {
                Log.ClientDisconnected(logger, turnId);
            }
        }
        finally
        {
            telemetry.TurnEnded(activity, Protocol, outcome, chunks, startedTimestamp);
        }
    }

    private static async Task WriteErrorAsync(
        Utf8JsonWriter json, System.IO.Pipelines.PipeWriter pipe, StreamWriteWatchdog watchdog, StatusCode code, string sessionId, CancellationToken cancellationToken)
    {
        json.Reset(pipe);
        OriginalEvents.WriteError(
            json,
            LlmProblems.UserDetail(code, null),
            sessionId,
            LlmProblems.StatusName(code),
            retryable: code is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted,
            withTimestamp: true);
        EndLine(json, pipe);
        await watchdog.FlushAsync(pipe, cancellationToken);
    }

    /// <summary>Ends one NDJSON line; Reset lets the same writer start the next top-level object.</summary>
    private static void EndLine(Utf8JsonWriter json, System.IO.Pipelines.PipeWriter pipe)
    {
        json.Flush();
        pipe.Write("\n"u8);
        json.Reset(pipe);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(string), [ContentType]));

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "NDJSON stream of turn {TurnId} started on session {SessionId}")]
        public static partial void StreamStarted(ILogger logger, string turnId, string sessionId);

        [LoggerMessage(2, LogLevel.Information, "NDJSON stream of turn {TurnId} completed: {Chunks} chunks in {Seconds:0.000} s")]
        public static partial void StreamCompleted(ILogger logger, string turnId, int chunks, double seconds);

        [LoggerMessage(3, LogLevel.Warning, "NDJSON stream of turn {TurnId} ended with error {Code}")]
        public static partial void StreamFailed(ILogger logger, string turnId, string code);

        [LoggerMessage(4, LogLevel.Information, "Client left the NDJSON stream of turn {TurnId}")]
        public static partial void ClientDisconnected(ILogger logger, string turnId);
    }
}
