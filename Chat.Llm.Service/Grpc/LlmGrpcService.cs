using System.Globalization;
using Chat.Contracts.Llm.V1;
using Chat.Llm.Service.Models;
using Chat.Llm.Service.Sessions;
using Chat.Llm.Service.Turns;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using StackExchange.Redis;

namespace Chat.Llm.Service.Grpc;

/// <summary>chat.llm.v1.LlmService: the one way transports reach the model and the conversation state.</summary>
public sealed class LlmGrpcService(
    RedisSessionStore store,
    TurnService turns,
    TurnResumer resumer,
    ModelInfo model,
    ReplicaInfo replica,
    IConnectionMultiplexer redis,
    RedisKeys keys,
    TimeProvider time) : LlmService.LlmServiceBase
{
    private static readonly WriteOptions BufferedWrite = new(WriteFlags.BufferHint);
    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 1000;

    public override async Task<Session> CreateSession(CreateSessionRequest request, ServerCallContext context)
    {
        var session = await store.CreateAsync(request.Principal,
            string.IsNullOrWhiteSpace(request.ModelId) ? model.DefaultModel : request.ModelId.Trim(),
            model.Provider, request.SystemInstruction ?? "", context.CancellationToken);
        var reply = ToProto(session);
        reply.Created = true;
        return reply;
    }

    public override async Task<Session> GetSession(GetSessionRequest request, ServerCallContext context)
    {
        var id = RequestValidation.ParseSessionId(request.SessionId);
        var session = await store.GetAsync(id, request.Principal, context.CancellationToken) ?? throw RpcErrors.SessionNotFound();
        return ToProto(session);
    }

    public override async Task<ListSessionsResponse> ListSessions(ListSessionsRequest request, ServerCallContext context)
    {
        if (request.PageSize is < 0 or > MaxPageSize)
        {
            throw RpcErrors.InvalidArgument($"page_size must be between 0 and {MaxPageSize}.");
        }

        var offset = 0;
        if (!string.IsNullOrEmpty(request.PageToken)
            && (!int.TryParse(request.PageToken, NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset < 0))
        {
            throw RpcErrors.InvalidArgument("page_token is not one this service issued.");
        }

        var page = await store.ListAsync(request.Principal, offset, request.PageSize == 0 ? DefaultPageSize : request.PageSize,
            context.CancellationToken);
        var response = new ListSessionsResponse
        {
            Total = page.Total,
            NextPageToken = page.NextOffset?.ToString(CultureInfo.InvariantCulture) ?? "",
        };
        response.Sessions.AddRange(page.Sessions.Select(ToProto));
        return response;
    }

    public override async Task<DeleteSessionResponse> DeleteSession(DeleteSessionRequest request, ServerCallContext context)
    {
        var id = RequestValidation.ParseSessionId(request.SessionId);
        return await store.DeleteAsync(id, request.Principal, context.CancellationToken)
            ? new DeleteSessionResponse { Deleted = true }
            : throw RpcErrors.SessionNotFound();
    }

    public override async Task<Session> ClearSession(ClearSessionRequest request, ServerCallContext context)
    {
        var id = RequestValidation.ParseSessionId(request.SessionId);
        var session = await store.ClearAsync(id, request.Principal, context.CancellationToken) ?? throw RpcErrors.SessionNotFound();
        return ToProto(session);
    }

    public override async Task<GetHistoryResponse> GetHistory(GetHistoryRequest request, ServerCallContext context)
    {
        var id = RequestValidation.ParseSessionId(request.SessionId);
        if (request.Limit < 0)
        {
            throw RpcErrors.InvalidArgument("limit must not be negative.");
        }

        if (request.HasBefore && request.Before < 0)
        {
            throw RpcErrors.InvalidArgument("before must not be negative.");
        }

        var page = await store.GetHistoryAsync(id, request.Principal, request.Limit, request.HasBefore ? request.Before : null,
            context.CancellationToken) ?? throw RpcErrors.SessionNotFound();
        var response = new GetHistoryResponse { Total = page.Total, FirstIndex = page.FirstIndex };
        response.Messages.AddRange(page.Messages.Select(m => new HistoryMessage
        {
            Role = m.Role,
            Text = m.Text,
            At = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(m.AtUnixMs)),
            TurnId = m.TurnId,
        }));
        return response;
    }

    public override async Task StreamTurn(TurnRequest request, IServerStreamWriter<TurnEvent> responseStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        var events = await turns.StartAsync(request, cancellationToken);
        try
        {
            while (await events.WaitToReadAsync(cancellationToken))
            {
                while (events.TryRead(out var turnEvent))
                {
                    // Events that queued while a write was in flight leave in one flush: each one is buffered while
                    // another follows, the last flushes. A lone event is flushed at once: nothing waits for a timer.
                    responseStream.WriteOptions = events.TryPeek(out _) ? BufferedWrite : null;
                    await responseStream.WriteAsync(turnEvent, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The caller went away: a detached turn keeps running (resumable); any other was cancelled with it.
        }
    }

    public override async Task ResumeTurn(ResumeTurnRequest request, IServerStreamWriter<TurnEvent> responseStream, ServerCallContext context)
    {
        var turnId = RequestValidation.ParseTurnId(request.TurnId);
        if (request.AfterSequence < 0)
        {
            throw RpcErrors.InvalidArgument("after_sequence must not be negative.");
        }

        await foreach (var turnEvent in resumer.ResumeAsync(
            turnId, request.AfterSequence, request.Epoch ?? "", request.ReportStatus, request.Principal, context.CancellationToken))
        {
            await responseStream.WriteAsync(turnEvent, context.CancellationToken);
        }
    }

    public override async Task<CancelTurnResponse> CancelTurn(CancelTurnRequest request, ServerCallContext context)
    {
        var turnId = RequestValidation.ParseTurnId(request.TurnId);
        return new CancelTurnResponse { Cancelled = await resumer.CancelAsync(turnId, request.Principal, context.CancellationToken) };
    }

    public override async Task<PublishSessionEventResponse> PublishSessionEvent(SessionEvent request, ServerCallContext context)
    {
        var id = RequestValidation.ParseSessionId(request.SessionId);
        _ = await store.GetAsync(id, request.Principal, context.CancellationToken) ?? throw RpcErrors.SessionNotFound();
        var published = request.Clone();
        published.SessionId = id;
        published.At ??= Timestamp.FromDateTimeOffset(time.GetUtcNow());
        var receivers = await redis.GetSubscriber().PublishAsync(keys.SessionEventsChannel(id), published.ToByteArray())
            .WaitAsync(context.CancellationToken);
        return new PublishSessionEventResponse { Receivers = receivers };
    }

    public override async Task WatchSession(WatchSessionRequest request, IServerStreamWriter<SessionEvent> responseStream, ServerCallContext context)
    {
        var id = RequestValidation.ParseSessionId(request.SessionId);
        _ = await store.GetAsync(id, request.Principal, context.CancellationToken) ?? throw RpcErrors.SessionNotFound();
        var events = System.Threading.Channels.Channel.CreateUnbounded<SessionEvent>(new() { SingleReader = true });
        var channel = keys.SessionEventsChannel(id);
        var subscriber = redis.GetSubscriber();
        Action<RedisChannel, RedisValue> handler = (_, message) => events.Writer.TryWrite(SessionEvent.Parser.ParseFrom((byte[])message!));
        await subscriber.SubscribeAsync(channel, handler);
        try
        {
            // Headers first, so a watcher knows it is subscribed before anything is published.
            await context.WriteResponseHeadersAsync([]);
            await foreach (var sessionEvent in events.Reader.ReadAllAsync(context.CancellationToken))
            {
                await responseStream.WriteAsync(sessionEvent, context.CancellationToken);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel, handler);
        }
    }

    public override async Task<ServerStats> GetStats(GetStatsRequest request, ServerCallContext context)
    {
        var stats = await store.GetStatsAsync(context.CancellationToken);
        return new ServerStats
        {
            UptimeSeconds = Math.Max(0, (time.GetUtcNow() - stats.StartedAt).TotalSeconds),
            TotalTurns = stats.TotalTurns,
            SucceededTurns = stats.SucceededTurns,
            FailedTurns = stats.FailedTurns,
            AverageLatencySeconds = stats.SucceededTurns == 0 ? 0 : stats.LatencySecondsTotal / stats.SucceededTurns,
            ActiveSessions = stats.ActiveSessions,
            SessionsCreated = stats.SessionsCreated,
            Model = model.DefaultModel,
            Provider = model.Provider,
            StartedAt = Timestamp.FromDateTimeOffset(stats.StartedAt),
            InstanceId = replica.InstanceId,
        };
    }

    private Session ToProto(SessionRecord session) => new()
    {
        Id = session.Id,
        Model = session.Model,
        Provider = session.Provider,
        SystemInstruction = session.SystemInstruction,
        CreatedAt = Timestamp.FromDateTimeOffset(session.CreatedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(session.UpdatedAt),
        MessageCount = session.MessageCount,
        UserMessages = session.UserMessages,
        ModelMessages = session.ModelMessages,
        DurationSeconds = (session.UpdatedAt - session.CreatedAt).TotalSeconds,
        // By this service's clock, the one that stamped created_at: transports on other machines need no clock of theirs.
        AgeSeconds = Math.Max(0, (time.GetUtcNow() - session.CreatedAt).TotalSeconds),
        Title = session.Title ?? "",
    };
}
