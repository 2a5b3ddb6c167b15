using System.Collections.Concurrent;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Gateway;

/// <summary>
/// Lets a test pace a test backend: the backend waits at a named gate until the test releases it (after the test has
/// read what came before), so "dies mid-stream" happens at a known point, not after a guessed delay.
/// </summary>
public static class BackendGates
{
    private static readonly ConcurrentDictionary<string, TaskCompletionSource> Gates = new();

    public static string New() => Guid.NewGuid().ToString("N");

    public static Task WaitAsync(string gate) => Gate(gate).Task.DefaultTimeout();

    public static void Release(string gate) => Gate(gate).TrySetResult();

    private static TaskCompletionSource Gate(string gate) =>
        Gates.GetOrAdd(gate, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}
