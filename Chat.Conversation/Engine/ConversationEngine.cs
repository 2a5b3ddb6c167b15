using Chat.Contracts.Llm.V1;
using Chat.Conversation.Sessions;
using Chat.Transports.Shared.Streaming;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Chat.Conversation.Engine;

/// <summary>
/// One client connection's conversation, whatever carries it (SignalR's HubConnectionHandler, for chat): the framing
/// hands it commands in order and it answers with events, which the framing encodes. It keeps the connection's state
/// (the session it is attached to and whose updates it forwards, the reply in flight), starts replies and resumes in
/// Chat.Llm.Service and relays them in the background (so pings, typing and cancel get through while a reply runs),
/// and sends everything through one bounded queue drained by one writer (see the Outgoing part).
/// Session state lives in Chat.Llm.Service; nothing here outlives the connection.
/// </summary>
public sealed partial class ConversationEngine<TFrame>
{
    private readonly IConversationFraming<TFrame> _framing;
    private readonly ConversationSettings _settings;
    private readonly ConversationServices _services;
    private readonly LlmService.LlmServiceClient _llm;
    private readonly ILogger _logger;
    private readonly string _principal;
    private readonly CancellationTokenSource _lifetime;
    private readonly CancellationTokenSource _ended = new();
    private readonly Lock _gate = new();
    private readonly List<Task> _replies = [];
    private readonly OwnReplyFilter _ownReplies = new();

    private string? _sessionId;
    private CancellationTokenSource? _watch;
    private string? _currentReplyId;

    internal ConversationEngine(
        IConversationFraming<TFrame> framing, ConversationSettings settings, ConversationServices services, string principal, CancellationToken connectionAborted)
    {
        _framing = framing;
        _settings = settings;
        _services = services;
        _llm = services.Llm;
        _logger = services.LoggerFactory.CreateLogger("Chat.Conversation");
        _principal = principal;
        _lifetime = CancellationTokenSource.CreateLinkedTokenSource(connectionAborted);
        _queue = new OutgoingQueue(settings.QueueCapacity);
        // A write the client does not take (its buffers full) ends the connection; the queue bound alone would leave
        // the writer stuck in that write until the server's minimum data rate noticed.
        _watchdog = services.CreateWatchdog(framing.Protocol, framing.Abort);
    }

    /// <summary>This connection's id: the one its session events carry, so it does not hear its own.</summary>
    public string ConnectionId { get; } = Guid.NewGuid().ToString();

    /// <summary>The session the connection is attached to, if any.</summary>
    public string? SessionId => Volatile.Read(ref _sessionId);

    /// <summary>
    /// Cancelled when the conversation ended itself (<see cref="ConversationSettings.EndOnUnknownSession"/>,
    /// <see cref="ConversationSettings.EndOnServiceFailure"/>): the framing stops reading requests.
    /// </summary>
    public CancellationToken Ended => _ended.Token;

    /// <summary>Set when the conversation ended because Chat.Llm.Service failed: the call's final status.</summary>
    public Status? TerminalStatus { get; private set; }

    /// <summary>True when a message on an unknown session ended the conversation.</summary>
    public bool EndedForUnknownSession { get; private set; }

    /// <summary>Handles one command; replies and resumes go on in the background.</summary>
    public async Task HandleAsync(ConversationCommand command)
    {
        if (command is not (ChatCommand or JoinSessionCommand or CreateSessionCommand)
            && command.SessionId is { Length: > 0 } named && named != SessionId)
        {
            // A request that names a session attaches the connection to it before it is answered, so the answer
            // (a pong, say) means "subscribed". A message attaches once its reply is accepted.
            await WatchSessionAsync(named);
        }

        switch (command)
        {
            case PingCommand ping:
                await SendAsync(new PongEvent(ping.SessionId ?? SessionId));
                break;
            case CreateSessionCommand create:
                await CreateSessionAsync(create.ModelId);
                break;
            case JoinSessionCommand join:
                await JoinSessionAsync(join.SessionId);
                break;
            case ChatCommand chat:
                await StartReplyAsync(chat);
                break;
            case TypingCommand typing:
                await PublishTypingAsync(typing.SessionId ?? SessionId, typing.Typing);
                break;
            case CancelCommand cancel:
                await CancelAsync(cancel.ReplyId ?? Volatile.Read(ref _currentReplyId));
                break;
            case ResumeCommand resume:
                await StartResumeAsync(resume);
                break;
            case WatchCommand { SessionId: { } watched }:
                await WatchSessionAsync(watched);
                await SendAsync(new WatchingEvent(watched));
                break;
        }
    }

    /// <summary>Resolves once every reply in flight has ended (the client finished sending; the original gRPC client then reads to the end).</summary>
    public async Task WhenRepliesEndedAsync()
    {
        Task[] replies;
        lock (_gate)
        {
            replies = [.. _replies];
        }

        await Task.WhenAll(replies);
    }

    private async Task CreateSessionAsync(string? modelId)
    {
        try
        {
            var session = await _llm.CreateSessionAsync(
                new CreateSessionRequest { ModelId = modelId ?? "", Principal = _principal }, cancellationToken: _lifetime.Token);
            await WatchSessionAsync(session.Id);
            await SendAsync(new SessionCreatedEvent(session.Id, session.Model));
        }
        catch (RpcException exception) when (!_lifetime.IsCancellationRequested)
        {
            await SendAsync(new FailureEvent(FailureKind.CreateSession, exception.StatusCode, exception.Status.Detail, null, null));
        }
    }

    private async Task JoinSessionAsync(string? sessionId)
    {
        if (string.IsNullOrWhiteSpace(sessionId))
        {
            await SendAsync(new RejectedEvent("session_id is required", StatusCode.InvalidArgument));
            return;
        }

        try
        {
            var session = await _llm.GetSessionAsync(
                new GetSessionRequest { SessionId = sessionId, Principal = _principal }, cancellationToken: _lifetime.Token);
            await WatchSessionAsync(session.Id);
            await SendAsync(new SessionJoinedEvent(session.Id, session.Model, session.MessageCount));
        }
        catch (RpcException exception) when (!_lifetime.IsCancellationRequested)
        {
            await SendAsync(new FailureEvent(FailureKind.JoinSession, exception.StatusCode, exception.Status.Detail, sessionId, null));
        }
    }

    private async Task CancelAsync(string? replyId)
    {
        if (string.IsNullOrEmpty(replyId))
        {
            await SendAsync(new RejectedEvent("No reply in progress", StatusCode.FailedPrecondition, SessionId));
            return;
        }

        try
        {
            var response = await _llm.CancelTurnAsync(
                new CancelTurnRequest { TurnId = replyId, Principal = _principal }, cancellationToken: _lifetime.Token);
            if (!response.Cancelled)
            {
                await SendAsync(new RejectedEvent("No reply in progress", StatusCode.FailedPrecondition, SessionId, replyId));
            }
        }
        catch (RpcException exception) when (!_lifetime.IsCancellationRequested)
        {
            await SendAsync(new FailureEvent(FailureKind.Cancel, exception.StatusCode, exception.Status.Detail, SessionId, replyId));
        }
    }

    private async Task PublishTypingAsync(string? sessionId, bool typing)
    {
        if (string.IsNullOrEmpty(sessionId))
        {
            return; // as the original: typing outside a session goes nowhere
        }

        var sessionEvent = new SessionEvent
        {
            SessionId = sessionId,
            Type = "user_typing",
            Typing = typing,
            ConnectionId = ConnectionId,
            Origin = _services.Origin,
            Principal = _principal,
            At = Timestamp.FromDateTime(DateTime.UtcNow),
        };
        try
        {
            await _llm.PublishSessionEventAsync(sessionEvent, cancellationToken: _lifetime.Token);
        }
        catch (RpcException exception) when (!_lifetime.IsCancellationRequested)
        {
            // Fan-out is best effort: a lost typing indicator must not fail the connection.
            Log.PublishFailed(_logger, sessionId, exception.StatusCode);
        }
    }

    /// <summary>
    /// Makes this connection the session's listener for typing and message updates from every replica. Returns once
    /// the subscription is established (bounded), so a client told "joined" does not miss the next update.
    /// </summary>
    private Task WatchSessionAsync(string sessionId)
    {
        CancellationTokenSource watch;
        lock (_gate)
        {
            if (_sessionId == sessionId && _watch is not null)
            {
                return Task.CompletedTask;
            }

            _watch?.Cancel();
            _watch = watch = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
            Volatile.Write(ref _sessionId, sessionId);
        }

        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = SessionUpdates.ForwardAsync(_llm, sessionId, _principal, ConnectionId, _ownReplies,
            update => SendUpdate(new SessionUpdateEvent(sessionId, update)),
            status => Log.WatchInterrupted(_logger, sessionId, status),
            subscribed,
            watch.Token);
        return subscribed.Task.WaitAsync(TimeSpan.FromSeconds(2)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>Ends the conversation from inside (the framing stops reading); the replies in flight still finish.</summary>
    private void End()
    {
        try
        {
            _ended.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Track(Task reply)
    {
        lock (_gate)
        {
            _replies.RemoveAll(task => task.IsCompleted);
            _replies.Add(reply);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Debug, "Connection {ConnectionId} lost: {Reason}")]
        public static partial void ConnectionLost(ILogger logger, string connectionId, string reason);

        [LoggerMessage(LogLevel.Warning, "Connection {ConnectionId} closed: its outgoing queue of {Capacity} frames overflowed (slow reader)")]
        public static partial void SlowReader(ILogger logger, string connectionId, int capacity);

        [LoggerMessage(LogLevel.Warning, "A reply on connection {ConnectionId} failed with {StatusCode}; ending the conversation")]
        public static partial void ReplyFailed(ILogger logger, string connectionId, StatusCode statusCode);

        [LoggerMessage(LogLevel.Warning, "Publishing a session event on {SessionId} failed with {StatusCode}")]
        public static partial void PublishFailed(ILogger logger, string sessionId, StatusCode statusCode);

        [LoggerMessage(LogLevel.Warning, "Watching session {SessionId} was interrupted ({StatusCode}); subscribing again")]
        public static partial void WatchInterrupted(ILogger logger, string sessionId, StatusCode statusCode);
    }
}
