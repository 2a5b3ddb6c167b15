using System.Globalization;
using System.Text.Json;
using Chat.Llm.Service.Models;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Chat.Llm.Service.Sessions;

/// <summary>
/// Sessions, history, the per-session turn lock and the shared counters, all in Redis so every replica sees the same
/// state. A turn costs two round trips (BeginTurn, CompleteTurn) plus one when it creates its session; multi-key
/// steps are Lua scripts so they are atomic.
/// </summary>
public sealed class RedisSessionStore(
    IConnectionMultiplexer redis, RedisKeys keys, IOptions<LlmOptions> options, TimeProvider time, RedisHousekeeping housekeeping)
{
    private const string PrincipalField = "principal";

    // KEYS: session, history, lock, turn, principal sessions, active, stats.
    // ARGV: principal, turn id, lock ttl ms, turn ttl ms, session id, buffer epoch,
    //       create ('1': a new session with this id, created here), model, provider, now ms, idle ttl ms.
    // A turn that starts a new session creates it in the same round trip (what CreateAsync writes, with no system
    // instruction). The turn record starts an empty resume buffer: epoch, first = 1, last = 0 (see TurnEventBuffer).
    private const string BeginTurnScript = """
        if ARGV[7] == '1' then
          if redis.call('EXISTS', KEYS[1]) == 1 then
            return {'exists'}
          end
          redis.call('HSET', KEYS[1], 'id', ARGV[5], 'principal', ARGV[1], 'model', ARGV[8], 'provider', ARGV[9], 'system', '',
            'created', ARGV[10], 'updated', ARGV[10], 'messages', 0, 'user', 0, 'model_messages', 0)
          redis.call('PEXPIRE', KEYS[1], ARGV[11])
          redis.call('ZADD', KEYS[5], ARGV[10], ARGV[5])
          redis.call('ZADD', KEYS[6], ARGV[10], ARGV[5])
          redis.call('HINCRBY', KEYS[7], 'sessions_created', 1)
        elseif redis.call('HGET', KEYS[1], 'principal') ~= ARGV[1] then
          return {'missing'}
        end
        if not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then
          return {'busy'}
        end
        redis.call('HSET', KEYS[4], 'session', ARGV[5], 'principal', ARGV[1], 'state', 'running', 'epoch', ARGV[6], 'first', 1, 'last', 0)
        redis.call('PEXPIRE', KEYS[4], ARGV[4])
        if ARGV[7] == '1' then
          return {'ok', redis.call('HGETALL', KEYS[1]), {}}
        end
        return {'ok', redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
        """;

    // KEYS: session, history, lock, turn, active, stats, principal sessions.
    // ARGV: turn id, now ms, idle ttl ms, succeeded (1|0), latency ms, user json, model json ('' = none),
    //       session id, channel, message_added event bytes ('' = none), turn ttl ms.
    private const string CompleteTurnScript = """
        local count = -1
        if redis.call('EXISTS', KEYS[1]) == 1 then
          redis.call('RPUSH', KEYS[2], ARGV[6])
          redis.call('HINCRBY', KEYS[1], 'user', 1)
          count = redis.call('HINCRBY', KEYS[1], 'messages', 1)
          if ARGV[7] ~= '' then
            redis.call('RPUSH', KEYS[2], ARGV[7])
            redis.call('HINCRBY', KEYS[1], 'model_messages', 1)
            count = redis.call('HINCRBY', KEYS[1], 'messages', 1)
          end
          redis.call('HSET', KEYS[1], 'updated', ARGV[2])
          redis.call('PEXPIRE', KEYS[1], ARGV[3])
          redis.call('PEXPIRE', KEYS[2], ARGV[3])
          redis.call('ZADD', KEYS[5], ARGV[2], ARGV[8])
          if ARGV[10] ~= '' then
            redis.call('PUBLISH', ARGV[9], ARGV[10])
          end
        end
        if redis.call('GET', KEYS[3]) == ARGV[1] then
          redis.call('DEL', KEYS[3])
        end
        redis.call('HSET', KEYS[4], 'state', 'done')
        redis.call('PEXPIRE', KEYS[4], ARGV[11])
        redis.call('HINCRBY', KEYS[6], 'turns_total', 1)
        if ARGV[4] == '1' then
          redis.call('HINCRBY', KEYS[6], 'turns_succeeded', 1)
          redis.call('HINCRBY', KEYS[6], 'latency_ms_total', ARGV[5])
        else
          redis.call('HINCRBY', KEYS[6], 'turns_failed', 1)
        end
        return count
        """;

    // KEYS: session, history, principal sessions, active. ARGV: principal, session id.
    private const string DeleteScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'principal') ~= ARGV[1] then
          return 0
        end
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('ZREM', KEYS[3], ARGV[2])
        redis.call('ZREM', KEYS[4], ARGV[2])
        return 1
        """;

    // KEYS: session, history. ARGV: principal, now ms, idle ttl ms.
    private const string ClearScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'principal') ~= ARGV[1] then
          return {}
        end
        redis.call('DEL', KEYS[2])
        redis.call('HSET', KEYS[1], 'messages', 0, 'user', 0, 'model_messages', 0, 'updated', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return redis.call('HGETALL', KEYS[1])
        """;

    // KEYS: session, history. ARGV: principal, limit (0 = all), before (-1 = the newest page).
    // Returns nil for a session that is missing or someone else's, else {total, first index, messages}.
    private const string HistoryPageScript = """
        if redis.call('HGET', KEYS[1], 'principal') ~= ARGV[1] then
          return nil
        end
        local total = redis.call('LLEN', KEYS[2])
        local stop = tonumber(ARGV[3])
        if stop < 0 or stop > total then stop = total end
        local start = 0
        if tonumber(ARGV[2]) > 0 then start = math.max(0, stop - tonumber(ARGV[2])) end
        if stop <= start then return {total, stop, {}} end
        return {total, start, redis.call('LRANGE', KEYS[2], start, stop - 1)}
        """;

    private IDatabase Db => redis.GetDatabase();

    private SessionLimitsOptions Options => options.Value.Sessions;

    public async Task<SessionRecord> CreateAsync(
        string principal, string model, string provider, string systemInstruction, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var id = Guid.NewGuid().ToString("D");
        var session = new SessionRecord(id, principal, model, provider, systemInstruction, now, now, 0, 0, 0);
        var nowMs = now.ToUnixTimeMilliseconds();

        var transaction = Db.CreateTransaction();
        _ = transaction.HashSetAsync(keys.Session(id),
        [
            new("id", id),
            new(PrincipalField, principal),
            new("model", model),
            new("provider", provider),
            new("system", systemInstruction),
            new("created", nowMs),
            new("updated", nowMs),
            new("messages", 0),
            new("user", 0),
            new("model_messages", 0),
        ]);
        _ = transaction.KeyExpireAsync(keys.Session(id), Options.IdleTimeout);
        _ = transaction.SortedSetAddAsync(keys.PrincipalSessions(principal), id, nowMs);
        _ = transaction.SortedSetAddAsync(keys.ActiveSessions, id, nowMs);
        _ = transaction.HashIncrementAsync(keys.Stats, "sessions_created");
        await transaction.ExecuteAsync().WaitAsync(cancellationToken);
        return session;
    }

    public async Task<SessionRecord?> GetAsync(string sessionId, string principal, CancellationToken cancellationToken)
    {
        var fields = await Db.HashGetAllAsync(keys.Session(sessionId)).WaitAsync(cancellationToken);
        var session = Parse(fields);
        return session is not null && session.Principal == principal ? session : null;
    }

    /// <summary>
    /// One page of a session's history, owner-checked: at most <paramref name="limit"/> messages (0 = all) ending just
    /// before index <paramref name="before"/> (null = the newest). Null when the session is missing or not the
    /// principal's. One atomic script, so the total and the page agree even while a turn appends.
    /// </summary>
    public async Task<HistoryPage?> GetHistoryAsync(
        string sessionId, string principal, int limit, int? before, CancellationToken cancellationToken)
    {
        var result = await Db.ScriptEvaluateAsync(HistoryPageScript,
            [keys.Session(sessionId), keys.History(sessionId)],
            [principal, limit, before ?? -1]).WaitAsync(cancellationToken);
        if (result.IsNull)
        {
            return null;
        }

        var parts = (RedisResult[])result!;
        var messages = ((RedisResult[])parts[2]!).Select(r => ParseMessage((RedisValue)r)).ToList();
        return new HistoryPage(messages, (int)parts[0], (int)parts[1]);
    }

    public async Task<SessionPage> ListAsync(string principal, int offset, int pageSize, CancellationToken cancellationToken)
    {
        var index = keys.PrincipalSessions(principal);
        var ids = await Db.SortedSetRangeByRankAsync(index, offset, offset + pageSize - 1, Order.Descending).WaitAsync(cancellationToken);
        var batch = Db.CreateBatch();
        var reads = ids.Select(id => batch.HashGetAllAsync(keys.Session(id.ToString()))).ToList();
        // The first stored message is the session's first user message: its title in a list.
        var firsts = ids.Select(id => batch.ListGetByIndexAsync(keys.History(id.ToString()), 0)).ToList();
        var total = batch.SortedSetLengthAsync(index);
        batch.Execute();
        await Task.WhenAll(reads.Concat<Task>(firsts).Append(total)).WaitAsync(cancellationToken);

        // Sessions expire by key TTL; the index forgets them lazily, here, when a listing finds them gone.
        var sessions = new List<SessionRecord>();
        var expired = new List<RedisValue>();
        for (var i = 0; i < ids.Length; i++)
        {
            if (Parse(reads[i].Result) is { } session)
            {
                sessions.Add(firsts[i].Result.IsNull ? session : session with { Title = SessionTitle.From(ParseMessage(firsts[i].Result).Text) });
            }
            else
            {
                expired.Add(ids[i]);
            }
        }

        if (expired.Count > 0)
        {
            await Db.SortedSetRemoveAsync(index, [.. expired]).WaitAsync(cancellationToken);
        }

        var count = (int)total.Result - expired.Count;
        int? next = offset + ids.Length < count + expired.Count && ids.Length == pageSize ? offset + pageSize - expired.Count : null;
        return new SessionPage(sessions, count, next);
    }

    public async Task<bool> DeleteAsync(string sessionId, string principal, CancellationToken cancellationToken)
    {
        var result = await Db.ScriptEvaluateAsync(DeleteScript,
            [keys.Session(sessionId), keys.History(sessionId), keys.PrincipalSessions(principal), keys.ActiveSessions],
            [principal, sessionId]).WaitAsync(cancellationToken);
        return (int)result == 1;
    }

    public async Task<SessionRecord?> ClearAsync(string sessionId, string principal, CancellationToken cancellationToken)
    {
        var result = await Db.ScriptEvaluateAsync(ClearScript,
            [keys.Session(sessionId), keys.History(sessionId)],
            [principal, time.GetUtcNow().ToUnixTimeMilliseconds(), (long)Options.IdleTimeout.TotalMilliseconds]).WaitAsync(cancellationToken);
        return Parse(ToHashEntries(result));
    }

    /// <summary>
    /// Checks the owner, takes the session's turn lock and reads the session and its history: one round trip. With
    /// <paramref name="create"/> the session is new: created here with <paramref name="sessionId"/>, in the same round trip.
    /// </summary>
    public async Task<(BeginTurnOutcome Outcome, TurnStart? Start)> BeginTurnAsync(
        string sessionId, string principal, string turnId, string epoch, TimeSpan turnTtl, CancellationToken cancellationToken,
        NewSession? create = null)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await Db.ScriptEvaluateAsync(BeginTurnScript,
            [
                keys.Session(sessionId), keys.History(sessionId), keys.TurnLock(sessionId), keys.Turn(turnId),
                keys.PrincipalSessions(principal), keys.ActiveSessions, keys.Stats,
            ],
            [
                principal, turnId, (long)Options.TurnLockTimeout.TotalMilliseconds, (long)turnTtl.TotalMilliseconds, sessionId, epoch,
                create is null ? "" : "1", create?.Model ?? "", create?.Provider ?? "", now, (long)Options.IdleTimeout.TotalMilliseconds,
            ])
            .WaitAsync(cancellationToken);
        var parts = (RedisResult[])result!;
        switch ((string?)parts[0])
        {
            case "missing":
                return (BeginTurnOutcome.SessionNotFound, null);
            case "busy":
                return (BeginTurnOutcome.TurnAlreadyRunning, null);
            case "exists":
                // A new random id that is taken: not expected in this universe, but never a turn on someone's session.
                throw new InvalidOperationException("The new session's id is already in use.");
        }

        var session = Parse(ToHashEntries(parts[1]))!;
        var history = ((RedisResult[])parts[2]!).Select(r => ParseMessage((RedisValue)r)).ToList();
        return (BeginTurnOutcome.Started, new TurnStart(session, history));
    }

    /// <summary>
    /// Extends the session locks of running turns, each only while its turn still holds it: one round trip for all of
    /// them, on the housekeeping connection. Returns, per turn, whether its lock was renewed (false once it is not the turn's any more).
    /// </summary>
    public async Task<bool[]> RenewTurnLocksAsync(IReadOnlyList<(string SessionId, string TurnId)> turns, CancellationToken cancellationToken)
    {
        const int PerCall = 500;
        var renewed = new bool[turns.Count];
        var calls = new List<(int Offset, Task<RedisResult> Result)>();
        for (var offset = 0; offset < turns.Count; offset += PerCall)
        {
            var count = Math.Min(PerCall, turns.Count - offset);
            var lockKeys = new RedisKey[count];
            var args = new RedisValue[count + 1];
            args[0] = (long)Options.TurnLockTimeout.TotalMilliseconds;
            for (var i = 0; i < count; i++)
            {
                lockKeys[i] = keys.TurnLock(turns[offset + i].SessionId);
                args[i + 1] = turns[offset + i].TurnId;
            }

            calls.Add((offset, housekeeping.Connection.GetDatabase().ScriptEvaluateAsync(RenewLocksScript, lockKeys, args)));
        }

        foreach (var (offset, call) in calls)
        {
            var results = (RedisResult[])(await call.WaitAsync(cancellationToken))!;
            for (var i = 0; i < results.Length; i++)
            {
                renewed[offset + i] = (long)results[i] == 1;
            }
        }

        return renewed;
    }

    // KEYS: session locks. ARGV: lock ttl ms, then the turn id expected in each lock.
    private const string RenewLocksScript = """
        local renewed = {}
        for i = 1, #KEYS do
          if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
            redis.call('PEXPIRE', KEYS[i], ARGV[1])
            renewed[i] = 1
          else
            renewed[i] = 0
          end
        end
        return renewed
        """;

    /// <summary>
    /// Appends the turn's messages (the user message always, the model reply only when the turn succeeded), refreshes
    /// the idle expiry, releases the lock, counts the turn and publishes message_added: one round trip.
    /// Returns the stored message count afterwards, or -1 when the session was deleted during the turn.
    /// </summary>
    public async Task<int> CompleteTurnAsync(
        SessionRecord session, string turnId, StoredMessage userMessage, StoredMessage? modelMessage,
        bool succeeded, TimeSpan latency, TimeSpan turnTtl, byte[]? messageAddedEvent, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await Db.ScriptEvaluateAsync(CompleteTurnScript,
            [
                keys.Session(session.Id), keys.History(session.Id), keys.TurnLock(session.Id), keys.Turn(turnId),
                keys.ActiveSessions, keys.Stats, keys.PrincipalSessions(session.Principal),
            ],
            [
                turnId, now, (long)Options.IdleTimeout.TotalMilliseconds, succeeded ? "1" : "0",
                (long)latency.TotalMilliseconds, Serialize(userMessage), modelMessage is null ? "" : Serialize(modelMessage),
                session.Id, keys.SessionEventsChannel(session.Id).ToString(), messageAddedEvent ?? [], (long)turnTtl.TotalMilliseconds,
            ]).WaitAsync(cancellationToken);
        return (int)result;
    }

    /// <summary>Counts a turn that failed before it could start (its session could not be created, for example).</summary>
    public Task CountFailedTurnAsync(CancellationToken cancellationToken)
    {
        var transaction = Db.CreateTransaction();
        _ = transaction.HashIncrementAsync(keys.Stats, "turns_total");
        _ = transaction.HashIncrementAsync(keys.Stats, "turns_failed");
        return transaction.ExecuteAsync().WaitAsync(cancellationToken);
    }

    /// <summary>Records the first start of any replica, so uptime is the service's, not this process's.</summary>
    public Task MarkStartedAsync(CancellationToken cancellationToken) =>
        Db.HashSetAsync(keys.Stats, "started_at_ms", time.GetUtcNow().ToUnixTimeMilliseconds(), When.NotExists).WaitAsync(cancellationToken);

    public async Task<SharedStats> GetStatsAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var batch = Db.CreateBatch();
        var stats = batch.HashGetAllAsync(keys.Stats);
        var pruned = batch.SortedSetRemoveRangeByScoreAsync(keys.ActiveSessions, double.NegativeInfinity,
            (now - Options.IdleTimeout).ToUnixTimeMilliseconds(), Exclude.Stop);
        var active = batch.SortedSetLengthAsync(keys.ActiveSessions);
        batch.Execute();
        await Task.WhenAll(stats, pruned, active).WaitAsync(cancellationToken);

        var values = stats.Result.ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        long Get(string name) => values.GetValueOrDefault(name);
        var startedAt = values.TryGetValue("started_at_ms", out var started) ? DateTimeOffset.FromUnixTimeMilliseconds(started) : now;
        return new SharedStats(startedAt, Get("turns_total"), Get("turns_succeeded"), Get("turns_failed"),
            Get("latency_ms_total") / 1000.0, Get("sessions_created"), (int)active.Result);
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        await Db.PingAsync().WaitAsync(cancellationToken);
        return true;
    }

    internal static string Serialize(StoredMessage message) =>
        JsonSerializer.Serialize(message, SessionJsonContext.Default.StoredMessage);

    private static StoredMessage ParseMessage(RedisValue value) =>
        JsonSerializer.Deserialize((string)value!, SessionJsonContext.Default.StoredMessage)!;

    private static HashEntry[] ToHashEntries(RedisResult result)
    {
        if (result.IsNull || result.Resp2Type != ResultType.Array)
        {
            return [];
        }

        var flat = (RedisValue[])result!;
        var entries = new HashEntry[flat.Length / 2];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = new HashEntry(flat[2 * i], flat[2 * i + 1]);
        }

        return entries;
    }

    private static SessionRecord? Parse(HashEntry[] fields)
    {
        if (fields.Length == 0)
        {
            return null;
        }

        var map = fields.ToDictionary(e => e.Name.ToString(), e => e.Value);
        string Text(string name) => map.TryGetValue(name, out var v) ? v.ToString() : "";
        int Number(string name) => map.TryGetValue(name, out var v) && int.TryParse(v.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
        DateTimeOffset Time(string name) => map.TryGetValue(name, out var v) && long.TryParse(v.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms)
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : default;

        return new SessionRecord(Text("id"), Text(PrincipalField), Text("model"), Text("provider"), Text("system"),
            Time("created"), Time("updated"), Number("messages"), Number("user"), Number("model_messages"));
    }
}
