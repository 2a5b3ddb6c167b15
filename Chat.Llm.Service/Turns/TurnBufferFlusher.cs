using Chat.Llm.Service.Models;
using Microsoft.Extensions.Options;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// The one tick (every <c>Llm:Resume:FlushIntervalMs</c>) on which every running turn's resume buffer writes its new
/// events to Redis: the scripts of all turns leave together (the multiplexer pipelines them into a few writes) instead
/// of each turn waking on a timer of its own. It ticks only while some buffer has something to write.
/// </summary>
public sealed class TurnBufferFlusher(IOptions<LlmOptions> options) : IDisposable
{
    private readonly TimeSpan _interval = TimeSpan.FromMilliseconds(options.Value.Resume.FlushIntervalMs);
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private List<TurnEventBuffer> _due = [];
    private bool _ticking;

    /// <summary>Writes <paramref name="buffer"/>'s pending events on the next tick.</summary>
    public void Schedule(TurnEventBuffer buffer)
    {
        lock (_gate)
        {
            _due.Add(buffer);
            if (!_ticking)
            {
                _ticking = true;
                // Not the scheduling turn's context (its trace, its activity): the tick belongs to every turn.
                using (ExecutionContext.SuppressFlow())
                {
                    _ = Task.Run(TickAsync, CancellationToken.None);
                }
            }
        }
    }

    private async Task TickAsync()
    {
        var writing = new List<TurnEventBuffer>();
        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                lock (_gate)
                {
                    (writing, _due) = (_due, writing);
                    if (writing.Count == 0)
                    {
                        _ticking = false;
                        return;
                    }
                }

                foreach (var buffer in writing)
                {
                    buffer.WritePending();
                }

                writing.Clear();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }
}
