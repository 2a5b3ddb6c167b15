using StackExchange.Redis;

namespace Chat.Llm.Service.Sessions;

/// <summary>Every Redis key and channel the service uses (docs/llm-service.md, "Redis layout").</summary>
public sealed class RedisKeys(string prefix)
{
    public string Prefix { get; } = prefix;

    public RedisKey Session(string sessionId) => $"{Prefix}session:{sessionId}";

    public RedisKey History(string sessionId) => $"{Prefix}history:{sessionId}";

    public RedisKey TurnLock(string sessionId) => $"{Prefix}lock:{sessionId}";

    /// <summary>Sorted set of one principal's session ids, scored by creation time (for ListSessions).</summary>
    public RedisKey PrincipalSessions(string principal) =>
        principal.Length == 0 ? $"{Prefix}sessions:anonymous" : $"{Prefix}sessions:p:{principal}";

    /// <summary>Sorted set of every session id, scored by last activity (for the active-sessions figure).</summary>
    public RedisKey ActiveSessions => $"{Prefix}active";

    public RedisKey Stats => $"{Prefix}stats";

    /// <summary>
    /// Hash describing a turn for resume and cancel, short-lived: session, principal, state, and its resume buffer's
    /// epoch, first and last sequence held, and accepted event.
    /// </summary>
    public RedisKey Turn(string turnId) => $"{Prefix}turn:{turnId}";

    /// <summary>List of a turn's serialized events in order (the resume buffer), short-lived.</summary>
    public RedisKey TurnEvents(string turnId) => $"{Prefix}turn:{turnId}:events";

    public RedisChannel TurnChannel(string turnId) => RedisChannel.Literal($"{Prefix}turn:{turnId}");

    public RedisChannel CancelChannel => RedisChannel.Literal($"{Prefix}cancel");

    public RedisChannel SessionEventsChannel(string sessionId) => RedisChannel.Literal($"{Prefix}session-events:{sessionId}");
}
