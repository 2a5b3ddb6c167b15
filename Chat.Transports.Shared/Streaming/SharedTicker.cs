namespace Chat.Transports.Shared.Streaming;

/// <summary>Something a <see cref="SharedTicker"/> looks at on every tick (a stream's heartbeat, its write watchdog).</summary>
public interface ITicking
{
    /// <summary>Runs on the ticker's thread: must return at once (start any write, do not wait for it).</summary>
    void Tick();
}

/// <summary>
/// One timer per period for every stream of a process, instead of a timer per stream: the heartbeats and the write
/// watchdogs of ten thousand idle streams cost one wake-up per tick, not ten thousand timers (docs/performance.md).
/// Ticks do not overlap: a tick that is still running when the next is due skips it.
/// </summary>
public sealed class SharedTicker
{
    private static readonly Dictionary<TimeSpan, SharedTicker> s_tickers = [];
    private static readonly Lock s_gate = new();

    private readonly Lock _gate = new();
    private readonly HashSet<ITicking> _members = [];
    private readonly Timer _timer;
    private ITicking[] _snapshot = [];
    private int _running;

    private SharedTicker(TimeSpan period) =>
        _timer = new Timer(static state => ((SharedTicker)state!).Fire(), this, period, period);

    /// <summary>Ticks <paramref name="member"/> every <paramref name="period"/> until the returned registration is disposed.</summary>
    public static Registration Register(TimeSpan period, ITicking member)
    {
        SharedTicker ticker;
        lock (s_gate)
        {
            if (!s_tickers.TryGetValue(period, out ticker!))
            {
                s_tickers[period] = ticker = new SharedTicker(period);
            }
        }

        lock (ticker._gate)
        {
            ticker._members.Add(member);
        }

        return new Registration(ticker, member);
    }

    /// <summary>Members registered now, across every period (tests, diagnostics).</summary>
    public static int Count
    {
        get
        {
            lock (s_gate)
            {
                return s_tickers.Values.Sum(t => t.MemberCount);
            }
        }
    }

    private int MemberCount
    {
        get
        {
            lock (_gate)
            {
                return _members.Count;
            }
        }
    }

    private void Fire()
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            return;
        }

        try
        {
            int count;
            lock (_gate)
            {
                count = _members.Count;
                if (_snapshot.Length < count)
                {
                    _snapshot = new ITicking[Math.Max(count, _snapshot.Length * 2)];
                }

                _members.CopyTo(_snapshot);
            }

            for (var i = 0; i < count; i++)
            {
                _snapshot[i].Tick();
                _snapshot[i] = null!;
            }
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private void Remove(ITicking member)
    {
        lock (_gate)
        {
            _members.Remove(member);
        }
    }

    /// <summary>A member's place on a ticker; disposing it stops the ticks.</summary>
    public readonly struct Registration(SharedTicker? ticker, ITicking? member) : IDisposable
    {
        public void Dispose()
        {
            if (ticker is not null && member is not null)
            {
                ticker.Remove(member);
            }
        }
    }
}
