using System.Security.Cryptography;
using Chat.Contracts.Llm.V1;
using Chat.Llm.Service.Models;
using Chat.Llm.Service.Sessions;
using Chat.Llm.Service.Telemetry;
using Google.Protobuf;
using StackExchange.Redis;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// Writes one turn's events to Redis in batches (at most one write per flush interval or per batch size, never one
/// per token): RPUSH to the turn's event list (the resume buffer) and PUBLISH of the same batch on the turn's channel
/// (the live tail for resumers on any replica), off the streaming path. The batches of every running turn are written
/// on one shared tick (<see cref="TurnBufferFlusher"/>), so the replica sends them to Redis together instead of each
/// turn waking on its own timer.
/// <para>
/// The buffer has an epoch (in the turn record, with the first and last sequence it holds). A batch is normally one
/// MULTI/EXEC of plain commands (RPUSH, HSET last, PEXPIRE ×2, PUBLISH): the buffer knows how many events the list must
/// hold after the push and that the record must already have a <c>last</c>, so Redis's own answers tell whether the
/// buffer is still the one it wrote to. When not (Redis lost the keys: a restart without persistence, a failover,
/// eviction), or after a write whose outcome is unknown, a script checks the buffer in Redis and, when it is not that
/// one, starts it again from this batch under a new epoch, so a resumer's old position is never taken for a position
/// in it. It keeps at most <c>MaxBufferedEvents</c> (the oldest are trimmed, and <c>first</c> moves) and refreshes the
/// time to live with every batch, so a buffer expires <c>BufferTtl</c> after the turn's last event. (A Lua script per
/// batch cost Redis ~45 µs per call here, the plain transaction a few; docs/performance.md, run 4.)
/// </para>
/// </summary>
public sealed class TurnEventBuffer
{
    // KEYS: turn record, event list.
    // ARGV: epoch, ttl ms, max events, principal, session, new epoch, accepted (TurnAccepted bytes), channel,
    //       batch (length-delimited), first sequence, last sequence, events...
    // Returns {epoch, events held}. The accepted event is stored with the batch that starts the buffer.
    private const string CheckedFlushScript = """
        local state = redis.call('HMGET', KEYS[1], 'epoch', 'first', 'last')
        local epoch = state[1]
        local first = tonumber(state[2] or '-1')
        local last = tonumber(state[3] or '-1')
        local held = redis.call('LLEN', KEYS[2])
        local started = ARGV[10] == '1'
        if epoch ~= ARGV[1] or first < 0 or last < 0 or held ~= last - first + 1 then
          epoch = ARGV[6]
          started = true
          held = 0
          redis.call('DEL', KEYS[2])
          redis.call('HSET', KEYS[1], 'session', ARGV[5], 'principal', ARGV[4], 'epoch', epoch, 'first', ARGV[10])
          redis.call('HSETNX', KEYS[1], 'state', 'running')
        end
        if started and ARGV[7] ~= '' then
          redis.call('HSETNX', KEYS[1], 'accepted', ARGV[7])
        end
        for i = 12, #ARGV, 1000 do
          held = redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
        end
        redis.call('HSET', KEYS[1], 'last', ARGV[11])
        local max = tonumber(ARGV[3])
        if held > max then
          redis.call('LTRIM', KEYS[2], held - max, -1)
          redis.call('HINCRBY', KEYS[1], 'first', held - max)
          held = max
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        redis.call('PEXPIRE', KEYS[2], ARGV[2])
        redis.call('PUBLISH', ARGV[8], ARGV[9])
        return {epoch, held}
        """;

    private readonly Lock _gate = new();
    private readonly IConnectionMultiplexer _redis;
    private readonly RedisKeys _keys;
    private readonly TurnBufferIdentity _turn;
    private readonly LocalTurnFeed _feed;
    private readonly TurnBufferFlusher _flusher;
    private readonly TimeSpan _ttl;
    private readonly int _maxBatch;
    private readonly int _maxEvents;
    private readonly ILogger _logger;
    private List<TurnEvent> _pending;
    private Task _writing = Task.CompletedTask;
    private bool _scheduled;
    private string _epoch;
    private byte[] _accepted = [];

    // What this buffer wrote: the events its list holds (BeginTurn starts it empty), and whether the last write's
    // outcome is unknown (it failed on the way), in which case the next one checks Redis's state.
    private long _held;
    private bool _uncertain;

    public TurnEventBuffer(
        IConnectionMultiplexer redis, RedisKeys keys, TurnBufferIdentity turn, LocalTurnFeed feed, TurnBufferFlusher flusher,
        ResumeOptions options, ILogger logger)
    {
        _redis = redis;
        _keys = keys;
        _turn = turn;
        _feed = feed;
        _flusher = flusher;
        _epoch = turn.Epoch;
        _ttl = options.BufferTtl;
        _maxBatch = options.MaxBatchEvents;
        _maxEvents = options.MaxBufferedEvents;
        _logger = logger;
        _pending = new List<TurnEvent>(Math.Min(_maxBatch, 64));
    }

    /// <summary>A new epoch for a turn's buffer: short, random (it only has to differ from the one before).</summary>
    public static string NewEpoch() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    /// <summary>
    /// Queues an event: it goes to Redis with the next shared tick (the first event after a write asks for one), or at
    /// once when the batch is full.
    /// </summary>
    public void Add(TurnEvent turnEvent)
    {
        bool schedule;
        lock (_gate)
        {
            _pending.Add(turnEvent);
            if (_pending.Count >= _maxBatch)
            {
                WritePendingLocked();
                return;
            }

            schedule = !_scheduled;
            _scheduled = true;
        }

        if (schedule)
        {
            _flusher.Schedule(this);
        }
    }

    /// <summary>Writes what is pending (the shared tick calls this); writes of one turn stay in order.</summary>
    internal void WritePending()
    {
        lock (_gate)
        {
            _scheduled = false;
            WritePendingLocked();
        }
    }

    /// <summary>Writes what is left and completes once every batch is in Redis; the turn's last event must have been added.</summary>
    public Task CompleteAsync()
    {
        lock (_gate)
        {
            WritePendingLocked();
            return _writing;
        }
    }

    private void WritePendingLocked()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        var batch = _pending;
        _pending = new List<TurnEvent>(Math.Min(_maxBatch, 64));
        _writing = AfterAsync(_writing, batch);
    }

    private async Task AfterAsync(Task previous, List<TurnEvent> batch)
    {
        await previous;
        await WriteAsync(batch);
    }

    /// <summary>
    /// A batch on the wire: length-delimited TurnEvent messages, in order, encoded once into one array sized up front;
    /// <paramref name="messages"/> receives each event's own bytes as a slice of it (the list's elements). Per event
    /// this costs no buffer of its own: a WriteDelimitedTo per event allocated a 4 KB stream buffer each time, nearly
    /// half of this service's allocations (docs/performance.md, run 5).
    /// </summary>
    private static byte[] EncodeBatch(IReadOnlyList<TurnEvent> events, RedisValue[] messages)
    {
        var sizes = new int[events.Count];
        var total = 0;
        for (var i = 0; i < events.Count; i++)
        {
            sizes[i] = events[i].CalculateSize();
            total += CodedOutputStream.ComputeLengthSize(sizes[i]) + sizes[i];
        }

        var encoded = new byte[total];
        var output = new CodedOutputStream(encoded);
        for (var i = 0; i < events.Count; i++)
        {
            output.WriteLength(sizes[i]);
            var start = (int)output.Position;
            events[i].WriteTo(output);
            messages[i] = encoded.AsMemory(start, sizes[i]);
        }

        output.CheckNoSpaceLeft();
        return encoded;
    }

    public static List<TurnEvent> DecodeBatch(byte[] batch)
    {
        var events = new List<TurnEvent>();
        using var stream = new MemoryStream(batch);
        while (stream.Position < stream.Length)
        {
            events.Add(TurnEvent.Parser.ParseDelimitedFrom(stream));
        }

        return events;
    }

    private async Task WriteAsync(List<TurnEvent> batch)
    {
        if (_accepted.Length == 0 && batch[0].Accepted is { } accepted)
        {
            _accepted = accepted.ToByteArray();
        }

        var events = new RedisValue[batch.Count];
        var encoded = EncodeBatch(batch, events);
        try
        {
            if (_uncertain || !await TryAppendAsync(batch, events, encoded))
            {
                await CheckedWriteAsync(batch, events, encoded);
            }
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The caller on this replica still gets every event; only resuming elsewhere loses this batch (the next
            // batch checks the buffer in Redis, finds it short of this one and starts a new epoch).
            _uncertain = true;
            Log.BufferWriteFailed(_logger, exception, _turn.TurnId);
        }
    }

    /// <summary>The usual batch: plain commands in one MULTI/EXEC; false when Redis's answers show the buffer is not the one written before.</summary>
    private async Task<bool> TryAppendAsync(List<TurnEvent> batch, RedisValue[] events, byte[] encoded)
    {
        var turn = _keys.Turn(_turn.TurnId);
        var list = _keys.TurnEvents(_turn.TurnId);
        var transaction = _redis.GetDatabase().CreateTransaction();
        var pushed = transaction.ListRightPushAsync(list, events);
        // HSET answers whether the field is new: 'last' is set from the start (BeginTurn), so new means the record was lost.
        var recordLost = transaction.HashSetAsync(turn, "last", batch[^1].Sequence);
        if (batch[0].Sequence == 1 && _accepted.Length > 0)
        {
            _ = transaction.HashSetAsync(turn, "accepted", _accepted, When.NotExists);
        }

        var held = _held + batch.Count;
        if (held > _maxEvents)
        {
            _ = transaction.ListTrimAsync(list, held - _maxEvents, -1);
            _ = transaction.HashIncrementAsync(turn, "first", held - _maxEvents);
        }

        _ = transaction.KeyExpireAsync(turn, _ttl);
        _ = transaction.KeyExpireAsync(list, _ttl);
        _ = transaction.PublishAsync(_keys.TurnChannel(_turn.TurnId), encoded);
        await transaction.ExecuteAsync();
        if (await pushed != held || await recordLost)
        {
            return false;
        }

        _held = Math.Min(held, _maxEvents);
        return true;
    }

    /// <summary>The checked batch (the script): the buffer is verified in Redis and started again under a new epoch when it is gone.</summary>
    private async Task CheckedWriteAsync(List<TurnEvent> batch, RedisValue[] events, byte[] encoded)
    {
        var args = new RedisValue[11 + batch.Count];
        args[0] = _epoch;
        args[1] = (long)_ttl.TotalMilliseconds;
        args[2] = _maxEvents;
        args[3] = _turn.Principal;
        args[4] = _turn.SessionId;
        args[5] = NewEpoch();
        args[6] = _accepted;
        args[7] = _keys.TurnChannel(_turn.TurnId).ToString();
        args[8] = encoded;
        args[9] = batch[0].Sequence;
        args[10] = batch[^1].Sequence;
        events.CopyTo(args, 11);
        var result = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(
            CheckedFlushScript, [_keys.Turn(_turn.TurnId), _keys.TurnEvents(_turn.TurnId)], args))!;
        var epoch = (string?)result[0];
        _held = (long)result[1];
        _uncertain = false;
        if (epoch is not null && epoch != _epoch)
        {
            // The keys were lost: the buffer starts again from this batch, under a new epoch.
            Log.BufferRecreated(_logger, _turn.TurnId, batch[0].Sequence);
            _epoch = epoch;
            _feed.EpochChanged(epoch);
        }
    }

    public static bool IsTerminal(TurnEvent turnEvent) =>
        turnEvent.KindCase is TurnEvent.KindOneofCase.Completed or TurnEvent.KindOneofCase.Error;
}

/// <summary>What a turn's buffer records about it, so it can be recreated whole (see <see cref="TurnEventBuffer"/>).</summary>
public sealed record TurnBufferIdentity(string TurnId, string SessionId, string Principal, string Epoch);
