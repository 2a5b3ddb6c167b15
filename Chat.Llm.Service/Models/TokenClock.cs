using System.Diagnostics;

namespace Chat.Llm.Service.Models;

/// <summary>
/// One shared tick loop for every offline stream (no timer per stream). It ticks at a tenth of the inter-token
/// interval; each stream waits for the first tick at or after its next token's due time, so every stream keeps its
/// own exact schedule (first token + i × interval, no drift) while one timer drives them all.
/// </summary>
public sealed class TokenClock : IDisposable
{
    private readonly PeriodicTimer _timer;
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _nextTick = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;

    public TokenClock(TimeSpan interval) =>
        _timer = new PeriodicTimer(TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, interval.Ticks / 10)));

    /// <summary>Completes on the first tick at or after <paramref name="dueTimestamp"/> (a Stopwatch timestamp).</summary>
    public async Task WaitUntilAsync(long dueTimestamp, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = Task.Run(TickAsync, CancellationToken.None);
        }

        while (Stopwatch.GetTimestamp() < dueTimestamp)
        {
            await Volatile.Read(ref _nextTick).Task.WaitAsync(cancellationToken);
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _timer.Dispose();
        _stopping.Dispose();
    }

    private async Task TickAsync()
    {
        try
        {
            while (await _timer.WaitForNextTickAsync(_stopping.Token))
            {
                Interlocked.Exchange(ref _nextTick, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
