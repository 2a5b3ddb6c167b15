using Chat.Contracts.Llm.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Chat.Transports.Shared.Hosting;

/// <summary>Deadlines and conversions every transport needs around chat.llm.v1 calls.</summary>
public static class LlmCalls
{
    /// <summary>How long a turn's call may take to end after its last event (the LLM service ends it right after).</summary>
    public static readonly TimeSpan LastEventToCallEnd = TimeSpan.FromSeconds(1);

    public static CallOptions Unary(this TransportOptions options, CancellationToken cancellationToken) =>
        new(deadline: DateTime.UtcNow + options.CallTimeout, cancellationToken: cancellationToken);

    public static CallOptions Turn(this TransportOptions options, CancellationToken cancellationToken) =>
        new(deadline: DateTime.UtcNow + options.TurnTimeout, cancellationToken: cancellationToken);

    public static DateTimeOffset ToOffset(this Timestamp? timestamp, DateTimeOffset fallback = default) =>
        timestamp is null ? fallback : timestamp.ToDateTimeOffset();

    /// <summary>
    /// A new turn on a session, or on a new one when the id is empty or unknown (the original's get-or-create).
    /// <paramref name="strictSession"/> (<see cref="StrictSession"/>): an unknown id is NOT_FOUND instead, and nothing is created.
    /// </summary>
    public static TurnRequest NewTurn(string message, string? sessionId, string? modelId, string principal, bool detach, bool strictSession = false) => new()
    {
        Message = message,
        SessionId = sessionId?.Trim() ?? "",
        CreateIfMissing = !strictSession,
        ModelId = modelId ?? "",
        Principal = principal,
        Detach = detach,
    };

    /// <summary>
    /// After a turn's last event, reads the call to its end (the LLM service ends it right after), so the call
    /// finishes with OK: disposing it earlier cancels it, and every successful turn's client span would read
    /// CANCELLED. Bounded, and quiet: the caller already has everything it needs.
    /// </summary>
    public static async Task EndAfterLastEventAsync(this AsyncServerStreamingCall<TurnEvent> call, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(LastEventToCallEnd);
        try
        {
            while (await call.ResponseStream.MoveNext(bounded.Token))
            {
            }
        }
        catch (Exception exception) when (exception is RpcException or OperationCanceledException)
        {
        }
    }
}
