using Chat.Contracts.Llm.V1;
using Grpc.Core;

namespace Chat.Conversation.Sessions;

/// <summary>
/// Follows one session's updates (typing, new messages) from every replica through Chat.Llm.Service's WatchSession, for
/// one transport connection: skips what this connection caused itself, and subscribes again when the stream is cut (the
/// LLM service replica went away) until cancelled. Shared by the WebSocket and gRPC transports, which only format.
/// </summary>
public static class SessionUpdates
{
    public static async Task ForwardAsync(
        LlmService.LlmServiceClient llm,
        string sessionId,
        string principal,
        string connectionId,
        OwnReplyFilter ownReplies,
        Action<SessionEvent> deliver,
        Action<StatusCode> interrupted,
        TaskCompletionSource subscribed,
        CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var call = llm.WatchSession(
                    new WatchSessionRequest { SessionId = sessionId, Principal = principal }, cancellationToken: cancellationToken);
                await call.ResponseHeadersAsync;
                subscribed.TrySetResult();
                await foreach (var update in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    if (update.ConnectionId == connectionId
                        || (update.Type == "message_added" && ownReplies.IsOwn(update.MessageCount)))
                    {
                        continue;
                    }

                    deliver(update);
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException exception) when (exception.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
            {
                // Deleted, or never a session: nothing to listen to, and asking again will not change that.
                subscribed.TrySetResult();
                return;
            }
            catch (RpcException exception)
            {
                subscribed.TrySetResult();
                interrupted(exception.StatusCode);
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
