using System.Diagnostics;

namespace Chat.Tests.Infrastructure;

// Every await in a test is bounded, so a hang fails the test instead of the whole run (grpc-dotnet test/Shared).
public static class TaskExtensions
{
    public static TimeSpan DefaultTimeoutSpan => Debugger.IsAttached ? TimeSpan.FromMinutes(10) : TimeSpan.FromSeconds(30);

    public static Task DefaultTimeout(this Task task) => task.WaitAsync(DefaultTimeoutSpan);

    public static Task<T> DefaultTimeout<T>(this Task<T> task) => task.WaitAsync(DefaultTimeoutSpan);

    public static Task DefaultTimeout(this ValueTask task) => task.AsTask().WaitAsync(DefaultTimeoutSpan);

    public static Task<T> DefaultTimeout<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(DefaultTimeoutSpan);

    public static CancellationToken DefaultTimeoutToken() => new CancellationTokenSource(DefaultTimeoutSpan).Token;
}
