using System.ClientModel;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Chat.Contracts.Llm.V1;
using Chat.Llm.Service.Grpc;
using Chat.Llm.Service.Models;
using Chat.Llm.Service.Sessions;
using Chat.Llm.Service.Telemetry;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// One turn = validate → (create the session) → take the session's turn lock and read its history (one Redis round
/// trip) → stream the model → store the user message and the reply, release the lock, count it, publish
/// message_added (one round trip). The model call runs on its own task: the caller reads its events from a channel,
/// and every event also goes to the turn's resume buffer in Redis (in batches).
/// </summary>
public sealed class TurnService(
    IChatClient chatClient,
    ModelInfo model,
    RedisSessionStore store,
    RedisKeys keys,
    TurnRegistry registry,
    TurnBufferFlusher flusher,
    RedisHousekeeping housekeeping,
    ReplicaInfo replica,
    LlmTelemetry telemetry,
    IOptions<LlmOptions> options,
    TimeProvider time,
    ILogger<TurnService> logger)
{
    private LlmOptions Options => options.Value;

    /// <summary>
    /// Starts a turn, or refuses it with a status (INVALID_ARGUMENT, NOT_FOUND, ABORTED). The returned reader yields
    /// every event of the turn, ending after `completed` or `error`.
    /// </summary>
    public async Task<ChannelReader<TurnEvent>> StartAsync(TurnRequest request, CancellationToken callerToken)
    {
        RequestValidation.ValidateMessage(request.Message, Options.Sessions.MaxMessageBytes);
        var principal = request.Principal ?? "";
        var turnId = Guid.NewGuid().ToString("N");
        var epoch = TurnEventBuffer.NewEpoch();
        var resumeTtl = Options.Resume.BufferTtl;

        var sessionCreated = false;
        string sessionId;
        NewSession? newSession = null;
        if (string.IsNullOrEmpty(request.SessionId) || (request.CreateIfMissing && !Guid.TryParse(request.SessionId, out _)))
        {
            // A new session, created by the same script that begins the turn: one round trip for both.
            (sessionId, newSession) = NewSessionFor(request);
            sessionCreated = true;
        }
        else
        {
            sessionId = RequestValidation.ParseSessionId(request.SessionId);
        }

        var (outcome, start) = await store.BeginTurnAsync(sessionId, principal, turnId, epoch, resumeTtl, callerToken, newSession);
        if (outcome == BeginTurnOutcome.SessionNotFound && request.CreateIfMissing && !sessionCreated)
        {
            (sessionId, newSession) = NewSessionFor(request);
            sessionCreated = true;
            (outcome, start) = await store.BeginTurnAsync(sessionId, principal, turnId, epoch, resumeTtl, callerToken, newSession);
        }

        switch (outcome)
        {
            case BeginTurnOutcome.SessionNotFound:
                throw RpcErrors.SessionNotFound();
            case BeginTurnOutcome.TurnAlreadyRunning:
                throw new RpcException(new Status(StatusCode.Aborted, "A turn is already running on this session; retry when it has finished."));
        }

        // Non-detached turns stop with the caller; detached ones only with CancelTurn or the host stopping.
        var cancellation = request.Detach
            ? CancellationTokenSource.CreateLinkedTokenSource(registry.Stopping)
            : CancellationTokenSource.CreateLinkedTokenSource(registry.Stopping, callerToken);
        registry.Register(turnId, sessionId, cancellation);

        // The caller's writer continues inline when an event arrives (no thread hand-off per token): it only writes
        // the event into its HTTP/2 stream and waits again.
        var events = Channel.CreateUnbounded<TurnEvent>(new() { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = true });
        var run = new TurnRun(turnId, epoch, start!.Session with { }, sessionCreated, request, start.History, events.Writer, cancellation);
        _ = Task.Run(() => RunAsync(run), CancellationToken.None);
        return events.Reader;
    }

    private (string Id, NewSession Session) NewSessionFor(TurnRequest request) =>
        (Guid.NewGuid().ToString("D"), new NewSession(string.IsNullOrWhiteSpace(request.ModelId) ? model.DefaultModel : request.ModelId.Trim(), model.Provider));

    private sealed record TurnRun(
        string TurnId,
        string Epoch,
        SessionRecord Session,
        bool SessionCreated,
        TurnRequest Request,
        IReadOnlyList<StoredMessage> History,
        ChannelWriter<TurnEvent> Events,
        CancellationTokenSource Cancellation);

    private async Task RunAsync(TurnRun run)
    {
        var session = run.Session;
        using var activity = LlmTelemetry.ActivitySource.StartActivity("chat.turn");
        activity?.SetTag("chat.session.id", session.Id);
        activity?.SetTag("chat.turn.id", run.TurnId);
        activity?.SetTag("gen_ai.provider.name", model.Provider);
        activity?.SetTag("gen_ai.request.model", session.Model);
        telemetry.ActiveTurns.Add(1);

        var principal = run.Request.Principal ?? "";
        var feed = registry.AddFeed(run.TurnId, session.Id, principal, run.Epoch, Options.Resume.MaxBufferedEvents);
        var buffer = new TurnEventBuffer(housekeeping.Connection, keys, new TurnBufferIdentity(run.TurnId, session.Id, principal, run.Epoch), feed, flusher,
            Options.Resume, logger);
        long sequence = 0;
        void Emit(TurnEvent turnEvent)
        {
            turnEvent.Sequence = ++sequence;
            turnEvent.TurnId = run.TurnId;
            run.Events.TryWrite(turnEvent);
            feed.Publish(turnEvent);
            buffer.Add(turnEvent);
        }

        var startedAt = time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        var (context, historyCount) = ContextBuilder.Build(session.SystemInstruction, run.History, run.Request.Message,
            Options.Sessions.MaxContextMessages, Options.Sessions.MaxContextCharacters);
        Emit(new TurnEvent
        {
            Accepted = new TurnAccepted
            {
                SessionId = session.Id,
                SessionCreated = run.SessionCreated,
                Model = session.Model,
                Provider = model.Provider,
                ContextMessages = historyCount,
                MessageCount = session.MessageCount,
                StartedAt = Timestamp.FromDateTimeOffset(startedAt),
                Epoch = run.Epoch,
            },
        });

        var userMessage = new StoredMessage(StoredMessage.UserRole, run.Request.Message, startedAt.ToUnixTimeMilliseconds(), run.TurnId);
        var reply = new StringBuilder();
        var chunks = 0;
        TimeSpan? firstToken = null;
        ChatFinishReason? finishReason = null;
        UsageDetails? usage = null;
        TurnError? failure = null;
        using var modelIdle = CancellationTokenSource.CreateLinkedTokenSource(run.Cancellation.Token);
        modelIdle.CancelAfter(Options.ModelIdleTimeout);
        try
        {
            var chatOptions = new ChatOptions
            {
                ModelId = session.Model,
                Temperature = run.Request.Options?.HasTemperature == true ? run.Request.Options.Temperature : null,
                MaxOutputTokens = run.Request.Options?.HasMaxOutputTokens == true ? run.Request.Options.MaxOutputTokens : null,
            };
            await foreach (var update in chatClient.GetStreamingResponseAsync(context, chatOptions, modelIdle.Token))
            {
                modelIdle.CancelAfter(Options.ModelIdleTimeout);
                finishReason = update.FinishReason ?? finishReason;
                foreach (var content in update.Contents)
                {
                    if (content is UsageContent usageContent)
                    {
                        usage = usageContent.Details;
                    }
                }

                var text = update.Text;
                if (string.IsNullOrEmpty(text))
                {
                    continue;
                }

                if (firstToken is null)
                {
                    firstToken = clock.Elapsed;
                    // From the turn's start (history loaded, context built): what the caller waits. The model call's
                    // span has its own (gen_ai.response.time_to_first_chunk and the chat.first_token event).
                    activity?.SetTag(FirstTokenTelemetryChatClient.TimeToFirstTokenAttribute, firstToken.Value.TotalSeconds);
                }

                reply.Append(text);
                Emit(new TurnEvent
                {
                    Delta = new TextDelta
                    {
                        Text = text,
                        Index = ++chunks,
                        EmittedAtTicks = update.AdditionalProperties?.TryGetValue(OfflineChatClient.EmittedAtTicksKey, out var ticks) == true && ticks is long stamped
                            ? stamped : Stopwatch.GetTimestamp(),
                    },
                });
            }

            if (chunks == 0 && !IsBlocked(finishReason))
            {
                failure = new TurnError { Code = nameof(StatusCode.Unavailable).ToUpperInvariant(), Message = "The model returned an empty reply.", Retryable = true };
            }
        }
        catch (OperationCanceledException) when (run.Cancellation.IsCancellationRequested)
        {
            failure = new TurnError { Code = "CANCELLED", Message = "The turn was cancelled.", Retryable = true };
        }
        catch (OperationCanceledException) when (modelIdle.IsCancellationRequested)
        {
            failure = new TurnError { Code = "DEADLINE_EXCEEDED", Message = "The model stopped responding.", Retryable = true };
        }
        catch (Exception exception)
        {
            failure = ToTurnError(exception, run.TurnId);
        }

        var succeeded = failure is null;
        var total = clock.Elapsed;
        var finish = succeeded ? FinishReasonName(finishReason) : "error";
        var modelMessage = succeeded && reply.Length > 0
            ? new StoredMessage(StoredMessage.ModelRole, reply.ToString(), time.GetUtcNow().ToUnixTimeMilliseconds(), run.TurnId)
            : null;

        var messageCount = session.MessageCount + 1 + (modelMessage is null ? 0 : 1);
        var messageAdded = modelMessage is null ? null : new SessionEvent
        {
            SessionId = session.Id,
            Type = "message_added",
            MessageCount = messageCount,
            LastMessagePreview = Preview(userMessage.Text),
            Origin = $"llm/{replica.InstanceId}",
            At = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            Principal = session.Principal,
        }.ToByteArray();
        try
        {
            // Not the turn's token: a cancelled or failed turn must still store its user message and release the lock.
            var stored = await store.CompleteTurnAsync(session, run.TurnId, userMessage, modelMessage, succeeded, total,
                Options.Resume.BufferTtl, messageAdded, CancellationToken.None);
            messageCount = stored >= 0 ? stored : messageCount;
        }
        catch (Exception exception)
        {
            // Redis down, or the host stopping: the lock expires on its own (TurnLockTimeout).
            Log.CompleteTurnFailed(logger, exception, run.TurnId);
            failure ??= new TurnError { Code = "UNAVAILABLE", Message = "The conversation store is unavailable; the reply was not saved.", Retryable = true };
            succeeded = false;
        }

        if (succeeded)
        {
            Emit(new TurnEvent
            {
                Completed = new TurnCompleted
                {
                    FinishReason = finish,
                    Usage = new Usage
                    {
                        InputTokens = (int)(usage?.InputTokenCount ?? 0),
                        OutputTokens = (int)(usage?.OutputTokenCount ?? chunks),
                        TotalTokens = (int)(usage?.TotalTokenCount ?? (usage?.InputTokenCount ?? 0) + (usage?.OutputTokenCount ?? chunks)),
                    },
                    TimeToFirstTokenSeconds = (firstToken ?? total).TotalSeconds,
                    TotalSeconds = total.TotalSeconds,
                    MessageCount = messageCount,
                    TotalChunks = chunks,
                    FullText = reply.ToString(),
                },
            });
            Log.TurnCompleted(logger, run.TurnId, session.Id, chunks, finish, total.TotalSeconds);
        }
        else
        {
            Emit(new TurnEvent { Error = failure });
            Log.TurnFailed(logger, run.TurnId, session.Id, failure!.Code, failure.Message);
            activity?.SetStatus(ActivityStatusCode.Error, failure.Code);
            activity?.SetTag("error.type", failure.Code);
        }

        Record(session.Model, failure?.Code, firstToken, total, chunks);
        run.Events.TryComplete();
        registry.Unregister(run.TurnId);
        run.Cancellation.Dispose();
        telemetry.ActiveTurns.Add(-1);
        await buffer.CompleteAsync();
        registry.RemoveFeed(run.TurnId);
    }

    private void Record(string modelId, string? errorCode, TimeSpan? firstToken, TimeSpan total, int chunks)
    {
        var tags = new TagList { { "gen_ai.provider.name", model.Provider }, { "gen_ai.request.model", modelId } };
        if (errorCode is not null)
        {
            tags.Add("error.type", errorCode);
        }

        telemetry.Turns.Add(1, tags);
        telemetry.RequestDuration.Record(total.TotalSeconds, tags);
        if (firstToken is { } ttft)
        {
            telemetry.TimeToFirstToken.Record(ttft.TotalSeconds, tags);
            if (chunks > 1)
            {
                telemetry.TimePerOutputToken.Record((total - ttft).TotalSeconds / (chunks - 1), tags);
            }
        }

    }

    private TurnError ToTurnError(Exception exception, string turnId)
    {
        switch (exception)
        {
            case ModelCallException model:
                return new TurnError { Code = RpcErrors.CodeName(model.Code), Message = model.Message, Retryable = model.Retryable };
            case ClientResultException openAi:
                Log.OpenAIFailed(logger, openAi, turnId, openAi.Status);
                var code = RpcErrors.FromHttpStatus(openAi.Status);
                return new TurnError { Code = RpcErrors.CodeName(code), Message = $"The model endpoint answered HTTP {openAi.Status}.", Retryable = RpcErrors.IsRetryable(code) };
            case HttpRequestException or TimeoutException or IOException:
                return new TurnError { Code = "UNAVAILABLE", Message = "The model could not be reached.", Retryable = true };
            default:
                Log.TurnCrashed(logger, exception, turnId);
                return new TurnError { Code = "INTERNAL", Message = "The model call failed.", Retryable = false };
        }
    }

    private static bool IsBlocked(ChatFinishReason? reason) => reason == ChatFinishReason.ContentFilter;

    /// <summary>"stop", "length", "content_filter", "tool_calls", or the provider's own word (lower case).</summary>
    internal static string FinishReasonName(ChatFinishReason? reason) =>
        reason is null ? "stop" : reason.Value.Value.ToLowerInvariant();

    /// <summary>The original's <c>last_message_preview</c>: the user's message, its first 50 characters and "..." past that.</summary>
    private static string Preview(string text)
    {
        const int Length = 50;
        if (text.Length <= Length)
        {
            return text;
        }

        // Never half a surrogate pair.
        var cut = char.IsHighSurrogate(text[Length - 1]) ? Length - 1 : Length;
        return string.Concat(text.AsSpan(0, cut), "...");
    }
}
