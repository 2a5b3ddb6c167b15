using System.Runtime.CompilerServices;
using Chat.Dashboard.Resources;

namespace Chat.Hosting.Orchestration;

/// <summary>The last N console lines of one replica (kept across its restarts, so a crash's last words stay visible).</summary>
internal sealed class ConsoleLog(int capacity)
{
    private readonly Queue<ConsoleLogLine> _lines = new();
    private readonly Lock _lock = new();
    private long _sequence;
    private TaskCompletionSource _appended = NewSignal();

    /// <summary>Raised for every new line (the AppHost echoes them with AppHost:ShowResourceLogs).</summary>
    public event Action<ConsoleLogLine>? Appended;

    public void Append(string text, bool isError)
    {
        TaskCompletionSource appended;
        ConsoleLogLine line;
        lock (_lock)
        {
            line = new ConsoleLogLine(++_sequence, DateTimeOffset.UtcNow, text, isError);
            _lines.Enqueue(line);
            while (_lines.Count > capacity)
            {
                _lines.Dequeue();
            }

            appended = _appended;
            _appended = NewSignal();
        }

        appended.TrySetResult();
        Appended?.Invoke(line);
    }

    public IReadOnlyList<ConsoleLogLine> Tail(int max)
    {
        lock (_lock)
        {
            return _lines.Skip(Math.Max(0, _lines.Count - max)).ToArray();
        }
    }

    public async IAsyncEnumerable<ConsoleLogLine> WatchAsync(long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            ConsoleLogLine[] lines;
            Task appended;
            lock (_lock)
            {
                lines = _lines.Where(line => line.Sequence > afterSequence).ToArray();
                appended = _appended.Task;
            }

            foreach (var line in lines)
            {
                yield return line;
                afterSequence = line.Sequence;
            }

            await appended.WaitAsync(cancellationToken);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
