namespace Chat.Llm.Service.Models;

/// <summary>
/// One shared tick loop for every offline stream (no timer per stream): each tick releases every stream waiting
/// for its next token at once, as a model server's decode step would. Started on first use.
/// </summary>
public sealed class TokenClock : IDisposable
{
    private readonly PeriodicTimer _timer;
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _nextTick = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;

    public TokenClock(TimeSpan interval) => _timer = new PeriodicTimer(interval);

    public Task NextTickAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = Task.Run(TickAsync, CancellationToken.None);
        }

        return Volatile.Read(ref _nextTick).Task.WaitAsync(cancellationToken);
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
