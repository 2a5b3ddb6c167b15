using System.Threading.Channels;
using Chat.Contracts.Llm.V1;
using Chat.Conversation.Engine;
using Chat.Tests.Infrastructure;
using Chat.Transports.Shared.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Chat.Tests.Conversation;

/// <summary>
/// A framing that keeps the conversation's events as they are (a chunk as its <see cref="ReplyChunk"/>) and "writes"
/// them into a list the test reads. Writes can be held (<see cref="HoldWrites"/>), as a client that stops reading
/// holds a socket's, to see the queue's back-pressure and the watchdog.
/// </summary>
internal sealed class InMemoryFraming : IConversationFraming<object>
{
    private readonly Channel<object> _written = Channel.CreateUnbounded<object>();
    private TaskCompletionSource _writesAllowed = Completed();

    public ConversationEngine<object> Conversation { get; private set; } = null!;

    public TransportTelemetry Telemetry { get; private set; } = null!;

    public string Protocol => "memory";

    public int Overflows;
    public int Writes;
    public int Releases;
    public int Finishes;
    public readonly TaskCompletionSource Aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public readonly TaskCompletionSource WriteHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A conversation on this framing, against a real Chat.Llm.Service.</summary>
    public static InMemoryFraming Start(
        LlmService.LlmServiceClient llm, ConversationSettings settings, string principal = "", TimeSpan? writeTimeout = null, bool holdWrites = false)
    {
        var provider = new ServiceCollection().AddMetrics().AddSingleton<ConnectionCounter>().AddSingleton<TransportTelemetry>().BuildServiceProvider();
        var telemetry = provider.GetRequiredService<TransportTelemetry>();
        var services = new ConversationServices(
            llm,
            Options.Create(new TransportOptions { StreamWriteTimeout = writeTimeout ?? TimeSpan.FromSeconds(30) }),
            telemetry,
            NullLoggerFactory.Instance,
            new ConfigurationBuilder().Build(),
            new HostingEnvironment { ApplicationName = "engine-tests" });
        var framing = new InMemoryFraming { Telemetry = telemetry };
        if (holdWrites)
        {
            framing.HoldWrites();
        }

        framing.Conversation = services.Create(framing, settings, principal, CancellationToken.None);
        framing.Conversation.Start();
        return framing;
    }

    public void HoldWrites() => _writesAllowed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ReleaseWrites() => _writesAllowed.TrySetResult();

    /// <summary>The next frame written, bounded.</summary>
    public async Task<object> NextAsync() => await _written.Reader.ReadAsync().AsTask().DefaultTimeout();

    /// <summary>Frames up to and including the first of type <typeparamref name="T"/>.</summary>
    public async Task<List<object>> UntilAsync<T>()
    {
        var frames = new List<object>();
        do
        {
            frames.Add(await NextAsync());
        }
        while (frames[^1] is not T);

        return frames;
    }

    public async Task<T> NextOfAsync<T>() => (T)(await UntilAsync<T>())[^1];

    public bool TryEncode(ConversationEvent conversationEvent, out object frame)
    {
        frame = conversationEvent;
        return true;
    }

    public object EncodeChunk(in ReplyChunk chunk) => chunk;

    public async ValueTask<bool> WriteAsync(object frame, bool flush)
    {
        if (!_writesAllowed.Task.IsCompleted)
        {
            WriteHeld.TrySetResult();
            await _writesAllowed.Task;
        }

        Interlocked.Increment(ref Writes);
        _written.Writer.TryWrite(frame);
        return true;
    }

    public void Release(object frame) => Interlocked.Increment(ref Releases);

    public ValueTask FinishAsync()
    {
        Interlocked.Increment(ref Finishes);
        return ValueTask.CompletedTask;
    }

    public void Abort()
    {
        Aborted.TrySetResult();
        ReleaseWrites();
    }

    public void QueueOverflowed()
    {
        Interlocked.Increment(ref Overflows);
        Conversation.Close();
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }
}
