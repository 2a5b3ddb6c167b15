using System.Diagnostics;

namespace Chat.Llm.Service.Models;

/// <summary>
/// One shared tick loop for every offline stream (no timer per stream). It ticks at a tenth of the inter-token
/// interval, and only while some stream is waiting; each tick wakes exactly the streams whose next token is due, so
/// every stream keeps its own exact schedule (first token + i × interval, no drift), wakes once per token, and an
/// idle service does not tick at all.
/// <para>
/// The streams due at a tick continue in a few batches, one per core: the first on the tick's own thread, the others
/// each on one thread-pool thread, every stream of a batch one after the other (each runs until its next wait, a few
/// microseconds). So a tick wakes at most one thread per core instead of one thread-pool hand-off per stream and
/// token, which on a small box costs more than the work itself (docs/performance.md, run 4).
/// </para>
/// </summary>
public sealed class TokenClock(TimeSpan interval) : IDisposable
{
    private readonly TimeSpan _resolution = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, interval.Ticks / 10));
    private readonly PriorityQueue<Waiter, long> _waiting = new();
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private bool _ticking;

    /// <summary>Completes on the first tick at or after <paramref name="dueTimestamp"/> (a Stopwatch timestamp).</summary>
    public Task WaitUntilAsync(long dueTimestamp, CancellationToken cancellationToken)
    {
        if (Stopwatch.GetTimestamp() >= dueTimestamp)
        {
            return Task.CompletedTask;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var waiter = new Waiter(cancellationToken);
        lock (_gate)
        {
            _waiting.Enqueue(waiter, dueTimestamp);
            if (!_ticking)
            {
                _ticking = true;
                // Not the waiting stream's context: the tick belongs to every stream (each continues in its own).
                using (ExecutionContext.SuppressFlow())
                {
                    _ = Task.Run(TickAsync, CancellationToken.None);
                }
            }
        }

        return waiter.Task;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task TickAsync()
    {
        var ready = new List<Waiter>();
        using var timer = new PeriodicTimer(_resolution);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                var now = Stopwatch.GetTimestamp();
                bool idle;
                lock (_gate)
                {
                    while (_waiting.TryPeek(out _, out var at) && at <= now)
                    {
                        ready.Add(_waiting.Dequeue());
                    }

                    _ticking = _waiting.Count > 0;
                    idle = !_ticking;
                }

                WakeAll(ready);
                ready.Clear();
                if (idle)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static void WakeAll(List<Waiter> ready)
    {
        // Below a few streams per core a second thread costs more than it saves.
        var batches = Math.Clamp(ready.Count / 4, 1, Environment.ProcessorCount);
        var size = (ready.Count + batches - 1) / batches;
        for (var start = size; start < ready.Count; start += size)
        {
            var batch = ready.GetRange(start, Math.Min(size, ready.Count - start));
            ThreadPool.UnsafeQueueUserWorkItem(static batch => Wake(batch), batch, preferLocal: false);
        }

        Wake(ready.GetRange(0, Math.Min(size, ready.Count)));
    }

    private static void Wake(List<Waiter> batch)
    {
        foreach (var due in batch)
        {
            due.Wake();
        }
    }

    /// <summary>
    /// A stream waiting for its next token. Its continuation runs synchronously on the thread that wakes it (the tick,
    /// or whoever cancels it); a cancelled waiter stays in the queue until its time comes and is then skipped.
    /// </summary>
    private sealed class Waiter : TaskCompletionSource
    {
        private readonly CancellationTokenRegistration _registration;

        public Waiter(CancellationToken cancellationToken) : base(TaskCreationOptions.None) =>
            _registration = cancellationToken.CanBeCanceled
                ? cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).TrySetCanceled(token), this)
                : default;

        public void Wake()
        {
            _registration.Dispose();
            TrySetResult();
        }
    }
}
