using System.Diagnostics;
using Chat.Contracts.Formats;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Chat.Conversation.Engine;
using Chat.Transports.Shared.Hosting;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Llm = Chat.Contracts.Llm.V1;
using Public = Chat.Contracts.Public;

namespace Chat.Grpc.Services;

/// <summary>
/// The original project's chat.ChatService, translated onto Chat.Llm.Service. Not-found answers keep the original's
/// shape (success=false, "Session not found", status OK); malformed requests and failures of the LLM service are
/// status codes (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED).
/// </summary>
public sealed class ChatGrpcService(
    LlmService.LlmServiceClient llm,
    ConversationServices conversations,
    IOptions<GrpcChatOptions> options,
    ILogger<ChatGrpcService> logger) : ChatService.ChatServiceBase
{
    public const string ActivitySourceName = "Chat.Grpc";
    public const string Framework = "gRPC (ASP.NET Core)";
    public const string PrincipalHeader = "x-chat-principal";

    /// <summary>Opt-in for replies that survive a dropped stream (resumable with RESUME); see docs/bidi-transports.md.</summary>
    public const string ResumableHeader = "chat-resumable";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    private const int MaxSessionIdLength = 128;
    private const string SessionNotFound = "Session not found";

    public override async Task<CreateSessionResponse> CreateSession(Public.CreateSessionRequest request, ServerCallContext context)
    {
        var session = await llm.CreateSessionAsync(
            new Llm.CreateSessionRequest
            {
                ModelId = request.ModelId,
                SystemInstruction = request.SystemInstruction,
                Principal = Principal(context),
            },
            cancellationToken: context.CancellationToken);
        return new CreateSessionResponse
        {
            SessionId = session.Id,
            Model = session.Model,
            Success = true,
            Message = "Session created successfully",
        };
    }

    public override async Task<SessionInfoResponse> GetSessionInfo(SessionInfoRequest request, ServerCallContext context)
    {
        ValidateSessionId(request.SessionId);
        try
        {
            var session = await llm.GetSessionAsync(
                new GetSessionRequest { SessionId = request.SessionId, Principal = Principal(context) },
                cancellationToken: context.CancellationToken);
            return new SessionInfoResponse
            {
                Success = true,
                Message = "Session found",
                SessionId = session.Id,
                Model = session.Model,
                MessageCount = session.MessageCount,
                UserMessages = session.UserMessages,
                ModelMessages = session.ModelMessages,
                DurationSeconds = OriginalFormat.Whole(session.AgeSeconds),
                CreatedAt = IsoTime(session.CreatedAt),
                DurationSecondsExact = Math.Round(session.AgeSeconds, 3),
                LastActivity = IsoTime(session.UpdatedAt),
                Provider = session.Provider,
            };
        }
        catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound)
        {
            return new SessionInfoResponse { Success = false, Message = SessionNotFound, SessionId = request.SessionId };
        }
    }

    public override async Task<Public.ListSessionsResponse> ListSessions(Public.ListSessionsRequest request, ServerCallContext context)
    {
        var page = await llm.ListSessionsAsync(
            new Llm.ListSessionsRequest { PageSize = 1000, Principal = Principal(context) },
            cancellationToken: context.CancellationToken);
        var response = new Public.ListSessionsResponse { ActiveSessions = page.Total };
        response.Sessions.AddRange(page.Sessions.Select(session => new SessionSummary
        {
            SessionId = session.Id,
            Model = session.Model,
            MessageCount = session.MessageCount,
            DurationMinutes = OriginalFormat.Whole(session.AgeSeconds / 60),
            CreatedAt = IsoTime(session.CreatedAt),
            DurationSecondsExact = Math.Round(session.AgeSeconds, 3),
            LastActivity = IsoTime(session.UpdatedAt),
        }));
        return response;
    }

    public override async Task<Public.DeleteSessionResponse> DeleteSession(Public.DeleteSessionRequest request, ServerCallContext context)
    {
        ValidateSessionId(request.SessionId);
        try
        {
            var result = await llm.DeleteSessionAsync(
                new Llm.DeleteSessionRequest { SessionId = request.SessionId, Principal = Principal(context) },
                cancellationToken: context.CancellationToken);
            return result.Deleted
                ? new Public.DeleteSessionResponse { Success = true, Message = $"Session {request.SessionId} deleted successfully" }
                : new Public.DeleteSessionResponse { Success = false, Message = SessionNotFound };
        }
        catch (RpcException exception) when (exception.StatusCode == StatusCode.NotFound)
        {
            return new Public.DeleteSessionResponse { Success = false, Message = SessionNotFound };
        }
    }

    public override async Task<ServerStatsResponse> GetServerStats(ServerStatsRequest request, ServerCallContext context)
    {
        var stats = await llm.GetStatsAsync(new GetStatsRequest(), cancellationToken: context.CancellationToken);
        return new ServerStatsResponse
        {
            UptimeSeconds = OriginalFormat.Whole(stats.UptimeSeconds),
            TotalRequests = Saturate(stats.TotalTurns),
            SuccessfulRequests = Saturate(stats.SucceededTurns),
            FailedRequests = Saturate(stats.FailedTurns),
            ActiveSessions = stats.ActiveSessions,
            TotalSessionsCreated = Saturate(stats.SessionsCreated),
            AverageResponseTime = Math.Round(stats.AverageLatencySeconds, 3),
            Model = stats.Model,
            Framework = Framework,
            UptimeSecondsExact = Math.Round(stats.UptimeSeconds, 3),
            StartTime = IsoTime(stats.StartedAt),
            Provider = stats.Provider,
        };
    }

    public override async Task Chat(IAsyncStreamReader<ChatRequest> requestStream, IServerStreamWriter<ChatResponse> responseStream, ServerCallContext context)
    {
        using var activity = ActivitySource.StartActivity("chat.stream");
        // The original's Chat keeps its answer to an unknown session (ERROR "Session not found", then the end)
        // whatever the strict-session flag says.
        var stream = CreateStream(responseStream, context, followReplySession: true, failOnUnknownSession: false);
        activity?.SetTag("chat.stream.id", stream.StreamId);
        await stream.RunAsync(requestStream);
    }

    /// <summary>One MESSAGE of Chat as a server stream (gRPC-Web from a browser cannot stream requests).</summary>
    public override async Task SendMessage(ChatRequest request, IServerStreamWriter<ChatResponse> responseStream, ServerCallContext context)
    {
        if (request.Type != ChatRequest.Types.MessageType.Message)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "SendMessage takes a MESSAGE"));
        }

        ValidateSessionId(request.SessionId);
        using var activity = ActivitySource.StartActivity("chat.send_message");
        // No session updates here: this call is one reply; WatchSession is the listening half. With the strict-session
        // flag an unknown session is the call's status (NOT_FOUND), not an ERROR response.
        var stream = CreateStream(responseStream, context, followReplySession: false, failOnUnknownSession: StrictSession.IsRequested(context.GetHttpContext().Request));
        activity?.SetTag("chat.stream.id", stream.StreamId);
        await stream.RunOneAsync(request);
    }

    /// <summary>The SESSION_UPDATEs of Chat for one session, until the caller goes away.</summary>
    public override async Task WatchSession(SessionInfoRequest request, IServerStreamWriter<ChatResponse> responseStream, ServerCallContext context)
    {
        ValidateSessionId(request.SessionId);
        // The watch itself takes NOT_FOUND as "nothing to listen to" and stays quiet; a caller asking is told.
        await llm.GetSessionAsync(
            new GetSessionRequest { SessionId = request.SessionId, Principal = Principal(context) },
            cancellationToken: context.CancellationToken);
        using var activity = ActivitySource.StartActivity("chat.watch_session");
        var stream = CreateStream(responseStream, context, followReplySession: false, failOnUnknownSession: false);
        activity?.SetTag("chat.stream.id", stream.StreamId);
        await stream.RunWatchAsync(request.SessionId);
    }

    private ChatStream CreateStream(
        IServerStreamWriter<ChatResponse> responseStream, ServerCallContext context, bool followReplySession, bool failOnUnknownSession) => new(
        responseStream,
        context,
        conversations,
        options.Value,
        logger,
        Principal(context),
        detach: string.Equals(context.RequestHeaders.GetValue(ResumableHeader), "true", StringComparison.OrdinalIgnoreCase),
        followReplySession,
        failOnUnknownSession);

    internal static string Principal(ServerCallContext context) => context.RequestHeaders.GetValue(PrincipalHeader) ?? "";

    /// <summary>Python's datetime.isoformat() shape (microseconds, offset), which the original client parses with fromisoformat.</summary>
    internal static string IsoTime(Google.Protobuf.WellKnownTypes.Timestamp? timestamp) =>
        timestamp is null ? "" : OriginalFormat.Timestamp(timestamp.ToDateTimeOffset());

    internal static void ValidateSessionId(string sessionId)
    {
        if (string.IsNullOrWhiteSpace(sessionId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "session_id is required"));
        }

        if (sessionId.Length > MaxSessionIdLength)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"session_id is longer than {MaxSessionIdLength} characters"));
        }
    }

    private static int Saturate(long value) => (int)Math.Clamp(value, 0, int.MaxValue);
}
