using System.Threading.Channels;
using Chat.Contracts.Llm.V1;
using Chat.Llm.Service.Sessions;
using Chat.Llm.Service.Telemetry;
using Google.Protobuf;
using StackExchange.Redis;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// Writes one turn's events to Redis in batches (at most one write per flush interval or per batch size, never one
/// per token): RPUSH to the turn's event list (the resume buffer, short TTL) and PUBLISH of the same batch on the
/// turn's channel (the live tail for resumers on any replica). Writes are pipelined off the streaming path.
/// </summary>
public sealed class TurnEventBuffer
{
    private readonly Channel<TurnEvent> _pending = Channel.CreateUnbounded<TurnEvent>(new() { SingleReader = true, SingleWriter = true });
    private readonly IConnectionMultiplexer _redis;
    private readonly RedisKeys _keys;
    private readonly string _turnId;
    private readonly TimeSpan _ttl;
    private readonly TimeSpan _flushInterval;
    private readonly int _maxBatch;
    private readonly ILogger _logger;
    private readonly Task _flushing;
    private bool _expirySet;

    public TurnEventBuffer(IConnectionMultiplexer redis, RedisKeys keys, string turnId, TimeSpan ttl, TimeSpan flushInterval, int maxBatch, ILogger logger)
    {
        _redis = redis;
        _keys = keys;
        _turnId = turnId;
        _ttl = ttl;
        _flushInterval = flushInterval;
        _maxBatch = maxBatch;
        _logger = logger;
        _flushing = Task.Run(FlushLoopAsync);
    }

    public void Add(TurnEvent turnEvent) => _pending.Writer.TryWrite(turnEvent);

    /// <summary>Flushes what is left; the turn's last event must have been added.</summary>
    public Task CompleteAsync()
    {
        _pending.Writer.TryComplete();
        return _flushing;
    }

    /// <summary>A batch on the wire: length-delimited TurnEvent messages, in order.</summary>
    public static byte[] EncodeBatch(IReadOnlyList<TurnEvent> events)
    {
        using var stream = new MemoryStream();
        foreach (var turnEvent in events)
        {
            turnEvent.WriteDelimitedTo(stream);
        }

        return stream.ToArray();
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

    private async Task FlushLoopAsync()
    {
        var reader = _pending.Reader;
        var batch = new List<TurnEvent>(_maxBatch);
        while (await reader.WaitToReadAsync())
        {
            while (batch.Count < _maxBatch && reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            // Give the model a flush interval to produce more before writing, unless the turn just ended.
            if (batch.Count < _maxBatch && !IsTerminal(batch[^1]))
            {
                await Task.Delay(_flushInterval);
                while (batch.Count < _maxBatch && reader.TryRead(out var next))
                {
                    batch.Add(next);
                }
            }

            await WriteAsync(batch);
            batch.Clear();
        }
    }

    private async Task WriteAsync(List<TurnEvent> batch)
    {
        try
        {
            var db = _redis.GetDatabase();
            var pipeline = db.CreateBatch();
            var eventsKey = _keys.TurnEvents(_turnId);
            var push = pipeline.ListRightPushAsync(eventsKey, batch.Select(e => (RedisValue)e.ToByteArray()).ToArray());
            // The list keeps its TTL across later pushes: set it with the first batch only.
            var expire = _expirySet ? Task.CompletedTask : pipeline.KeyExpireAsync(eventsKey, _ttl);
            var publish = pipeline.PublishAsync(_keys.TurnChannel(_turnId), EncodeBatch(batch));
            pipeline.Execute();
            await Task.WhenAll(push, expire, publish);
            _expirySet = true;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The caller on this replica still gets every event; only resuming elsewhere loses this batch.
            Log.BufferWriteFailed(_logger, exception, _turnId);
        }
    }

    public static bool IsTerminal(TurnEvent turnEvent) =>
        turnEvent.KindCase is TurnEvent.KindOneofCase.Completed or TurnEvent.KindOneofCase.Error;
}
