namespace Chat.Transports.Shared.Hosting;

/// <summary>
/// Open streaming connections on this replica (the original's <c>streaming_connections</c> /
/// <c>websocket_connections</c>). Per process on purpose: it says how loaded this replica is.
/// </summary>
public sealed class ConnectionCounter
{
    private int _current;
    private long _total;

    public int Current => Volatile.Read(ref _current);

    public long Total => Interlocked.Read(ref _total);

    /// <summary>Counts one connection until the returned lease is disposed.</summary>
    public Lease Open()
    {
        Interlocked.Increment(ref _current);
        Interlocked.Increment(ref _total);
        return new Lease(this);
    }

    public readonly struct Lease(ConnectionCounter counter) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref counter._current);
    }
}
