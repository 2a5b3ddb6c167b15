using System.Diagnostics;
using System.IO.Pipelines;
using Chat.Transports.Shared.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chat.Transports.Shared.Streaming;

/// <summary>
/// Drops a stream whose client stopped reading: when one write (or flush) of a stream event to the client has been
/// pending for <see cref="TransportOptions.StreamWriteTimeout"/>, the stream is aborted (HTTP: the request; WebSocket:
/// the socket; gRPC: the call), counted in <c>chat.transport.streams.dropped</c> (reason <c>slow_reader</c>) and logged
/// once. Without it only Kestrel's MinResponseDataRate would notice, uncounted.
/// <para>
/// The token path pays two volatile writes per write; a tick every quarter of the timeout looks at the pending write,
/// so a stuck stream is dropped between 1 and 1.25 timeouts after its write began. The tick is shared by every stream
/// of the process (<see cref="SharedTicker"/>): an open stream costs no timer of its own.
/// </para>
/// </summary>
public sealed partial class StreamWriteWatchdog : IDisposable, ITicking
{
    public const string SlowReaderReason = "slow_reader";

    private readonly TimeSpan _timeout;
    private readonly string _protocol;
    private readonly Action _abort;
    private readonly TransportTelemetry _telemetry;
    private readonly ILogger _logger;
    private readonly SharedTicker.Registration _ticks;
    private long _pendingSince;
    private int _dropped;

    /// <param name="timeout">How long one write may stay pending.</param>
    /// <param name="protocol">The stream's protocol ("sse", "ndjson", "websocket", "grpc") for the metric and log.</param>
    /// <param name="abort">Ends the stream at once (the client is not reading, so no goodbye can reach it).</param>
    public StreamWriteWatchdog(TimeSpan timeout, string protocol, Action abort, TransportTelemetry telemetry, ILogger logger)
    {
        _timeout = timeout;
        _protocol = protocol;
        _abort = abort;
        _telemetry = telemetry;
        _logger = logger;
        _ticks = SharedTicker.Register(timeout / 4, this);
    }

    /// <summary>A watchdog for an HTTP response stream: a stuck write aborts the request.</summary>
    public static StreamWriteWatchdog For(HttpContext context, string protocol)
    {
        var services = context.RequestServices;
        return new StreamWriteWatchdog(
            services.GetRequiredService<IOptions<TransportOptions>>().Value.StreamWriteTimeout,
            protocol,
            context.Abort,
            services.GetRequiredService<TransportTelemetry>(),
            services.GetRequiredService<ILoggerFactory>().CreateLogger<StreamWriteWatchdog>());
    }

    /// <summary>True once the stream was dropped for a stuck write.</summary>
    public bool Dropped => Volatile.Read(ref _dropped) == 1;

    /// <summary>Flushes <paramref name="pipe"/> under the watch.</summary>
    public async ValueTask FlushAsync(PipeWriter pipe, CancellationToken cancellationToken)
    {
        WriteStarted();
        try
        {
            await pipe.FlushAsync(cancellationToken);
        }
        finally
        {
            WriteEnded();
        }
    }

    public void WriteStarted() => Volatile.Write(ref _pendingSince, Stopwatch.GetTimestamp());

    public void WriteEnded() => Volatile.Write(ref _pendingSince, 0);

    void ITicking.Tick() => Check();

    private void Check()
    {
        var since = Volatile.Read(ref _pendingSince);
        if (since == 0 || Stopwatch.GetElapsedTime(since) < _timeout || Interlocked.Exchange(ref _dropped, 1) == 1)
        {
            return;
        }

        _ticks.Dispose();
        _telemetry.StreamDropped(_protocol, SlowReaderReason);
        Log.SlowReaderDropped(_logger, _protocol, _timeout.TotalSeconds);
        try
        {
            _abort();
        }
        catch (ObjectDisposedException)
        {
            // The stream ended on its own meanwhile.
        }
    }

    public void Dispose() => _ticks.Dispose();

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Dropped a {Protocol} stream: one write to the client was pending for {TimeoutSeconds} s (slow reader)")]
        public static partial void SlowReaderDropped(ILogger logger, string protocol, double timeoutSeconds);
    }
}
