using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Chat.Transports.Shared.Streaming;

namespace Chat.Sse.Streaming;

/// <summary>
/// Writes SSE frames (<c>id:</c>, <c>event:</c>, one <c>data:</c> line of JSON) straight into the response pipe,
/// and a comment heartbeat whenever the stream has been idle for the configured interval. Frames and heartbeats
/// share one gate, so they never interleave; the gate is uncontended on the token path (no allocation per token).
/// The heartbeats of every stream hang on one shared tick (<see cref="SharedTicker"/>), not a timer per stream.
/// </summary>
public sealed class SseEventWriter : IAsyncDisposable, ITicking
{
    private static readonly byte[] Heartbeat = ": keep-alive\n\n"u8.ToArray();

    private readonly PipeWriter _pipe;
    private readonly Utf8JsonWriter _json;
    private readonly byte[] _idPrefix;
    private readonly byte[] _idSuffix;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stop;
    private readonly TimeSpan _heartbeatInterval;
    private readonly StreamWriteWatchdog _watchdog;
    private long _lastWrite = Stopwatch.GetTimestamp();
    private SharedTicker.Registration _heartbeats;
    private Task _heartbeat = Task.CompletedTask;

    /// <param name="watchdog">Drops the stream when a flush (frames or heartbeat) stays pending too long.</param>
    /// <param name="epoch">The turn's resume buffer, appended to every id (<c>@epoch</c>); empty: none.</param>
    public SseEventWriter(
        PipeWriter pipe, string turnId, TimeSpan heartbeatInterval, StreamWriteWatchdog watchdog, CancellationToken cancellationToken, string epoch = "")
    {
        _pipe = pipe;
        _watchdog = watchdog;
        _json = new Utf8JsonWriter(pipe, OriginalEvents.WriterOptions);
        _idPrefix = Encoding.UTF8.GetBytes($"id: {turnId}:");
        _idSuffix = Encoding.UTF8.GetBytes(epoch.Length > 0 ? $"@{epoch}\n" : "\n");
        _heartbeatInterval = heartbeatInterval;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>Sends <c>retry:</c> and starts the heartbeats.</summary>
    public async Task StartAsync(TimeSpan retry)
    {
        var span = _pipe.GetSpan(32);
        "retry: "u8.CopyTo(span);
        Utf8Formatter.TryFormat((long)retry.TotalMilliseconds, span[7..], out var written);
        "\n\n"u8.CopyTo(span[(7 + written)..]);
        _pipe.Advance(7 + written + 2);
        await FlushAsync(_stop.Token);
        // Ticks at half the interval: an idle stream hears from us every 1 to 1.5 intervals.
        _heartbeats = SharedTicker.Register(_heartbeatInterval / 2, this);
    }

    /// <summary>Takes the gate for the frames of one turn event; release with <see cref="EndAsync"/>.</summary>
    public Task BeginAsync(CancellationToken cancellationToken) => _gate.WaitAsync(cancellationToken);

    /// <summary>
    /// Starts a frame: its id (<c>turn:sequence@epoch</c>, or <c>turn:sequence.frame@epoch</c> when frame &gt; 0), its event
    /// name and <c>data: </c>; the caller writes the JSON object into the returned writer, then calls
    /// <see cref="EndFrame"/>. A negative sequence writes no id (a transport failure that must not move the client's
    /// resume point).
    /// </summary>
    public Utf8JsonWriter BeginFrame(ReadOnlySpan<byte> eventName, long sequence, int frame)
    {
        if (sequence >= 0)
        {
            var span = _pipe.GetSpan(_idPrefix.Length + _idSuffix.Length + 32);
            _idPrefix.CopyTo(span);
            var length = _idPrefix.Length;
            Utf8Formatter.TryFormat(sequence, span[length..], out var written);
            length += written;
            if (frame > 0)
            {
                span[length++] = (byte)'.';
                Utf8Formatter.TryFormat(frame, span[length..], out written);
                length += written;
            }

            _idSuffix.CopyTo(span[length..]);
            length += _idSuffix.Length;
            _pipe.Advance(length);
        }

        _pipe.Write("event: "u8);
        _pipe.Write(eventName);
        _pipe.Write("\ndata: "u8);
        _json.Reset(_pipe);
        return _json;
    }

    public void EndFrame()
    {
        _json.Flush();
        _pipe.Write("\n\n"u8);
    }

    /// <summary>Flushes the frames written since <see cref="BeginAsync"/> to the client and releases the gate.</summary>
    public async Task EndAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        await _watchdog.FlushAsync(_pipe, cancellationToken);
        Volatile.Write(ref _lastWrite, Stopwatch.GetTimestamp());
    }

    /// <summary>On the shared tick: a heartbeat when the stream has been idle for the interval and nothing is being written.</summary>
    void ITicking.Tick()
    {
        if (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastWrite)) < _heartbeatInterval || !_heartbeat.IsCompleted || !_gate.Wait(0))
        {
            return;
        }

        // The gate is ours (a frame being written now would have made the heartbeat unnecessary anyway). The stop
        // token is read under it: once DisposeAsync holds the gate, no tick gets here.
        _heartbeat = SendHeartbeatAsync(_stop.Token);
    }

    private async Task SendHeartbeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            _pipe.Write(Heartbeat);
            await FlushAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The stream ended or the client left.
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _heartbeats.Dispose();
        await _stop.CancelAsync();
        // Held from here on: a tick already under way cannot start a heartbeat any more (it only tries the gate).
        await _gate.WaitAsync();
        await _heartbeat;
        _stop.Dispose();
        await _json.DisposeAsync();
    }
}
