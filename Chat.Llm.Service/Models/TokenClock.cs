using System.Diagnostics;

namespace Chat.Llm.Service.Models;

/// <summary>
/// One shared tick loop for every offline stream (no timer per stream). It ticks at a tenth of the inter-token
/// interval, and only while some stream is waiting; each tick wakes exactly the streams whose next token is due, so
/// every stream keeps its own exact schedule (first token + i × interval, no drift), wakes once per token, and an
/// idle service does not tick at all.
/// </summary>
public sealed class TokenClock(TimeSpan interval) : IDisposable
{
    private readonly TimeSpan _resolution = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, interval.Ticks / 10));
    private readonly PriorityQueue<TaskCompletionSource, long> _waiting = new();
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

        var due = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiting.Enqueue(due, dueTimestamp);
            if (!_ticking)
            {
                _ticking = true;
                _ = Task.Run(TickAsync, CancellationToken.None);
            }
        }

        return due.Task.WaitAsync(cancellationToken);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task TickAsync()
    {
        var ready = new List<TaskCompletionSource>();
        using var timer = new PeriodicTimer(_resolution);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                var now = Stopwatch.GetTimestamp();
                bool idle;
                lock (_gate)
                {
                    while (_waiting.TryPeek(out var due, out var at) && at <= now)
                    {
                        ready.Add(_waiting.Dequeue());
                    }

                    _ticking = _waiting.Count > 0;
                    idle = !_ticking;
                }

                foreach (var due in ready)
                {
                    due.TrySetResult();
                }

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
}
