extern alias sse;
extern alias websocket;
extern alias grpcservice;
using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Streaming;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Google.Protobuf;
using SseEventWriter = sse::Chat.Sse.Streaming.SseEventWriter;
using ChunkMessage = websocket::Chat.WebSocket.Sockets.ChunkMessage;

namespace Chat.Bench.Micro;

/// <summary>
/// The per-token hot paths: a chat.llm.v1 delta as it arrives (protobuf parse) and as each transport formats it
/// (NDJSON line, SSE frame, WebSocket JSON frame, public gRPC message). Run: dotnet run -c Release --project
/// Chat.Bench -- micro --filter '*Formatter*'. Target: 0 B allocated per token in the formatters.
/// </summary>
[MemoryDiagnoser]
public class FormatterBenchmarks
{
    private readonly byte[] _deltaBytes = new TurnEvent
    {
        Sequence = 7, TurnId = "3f1c9a7e-0b7c-4c2e-9a51-0c2d9f1e6a10",
        Delta = new TextDelta { Text = "offline ", Index = 6, EmittedAtTicks = 123456789012 },
    }.ToByteArray();

    private TurnEvent _delta = null!;
    private ArrayBufferWriter<byte> _buffer = null!;
    private Utf8JsonWriter _json = null!;
    private Pipe _pipe = null!;
    private SseEventWriter _sse = null!;
    private StreamWriteWatchdog _watchdog = null!;
    private readonly grpcservice::Chat.Grpc.Services.ChunkResponsePool _grpcChunks = new(capacity: 8);

    [GlobalSetup]
    public void Setup()
    {
        _delta = TurnEvent.Parser.ParseFrom(_deltaBytes);
        _buffer = new ArrayBufferWriter<byte>(64 * 1024);
        _json = new Utf8JsonWriter(_buffer, OriginalEvents.WriterOptions);
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0));
        _watchdog = new StreamWriteWatchdog(TimeSpan.FromMinutes(1), "sse", () => { }, Telemetry(), NullLogger.Instance);
        _sse = new SseEventWriter(_pipe.Writer, _delta.TurnId, TimeSpan.FromMinutes(10), _watchdog, CancellationToken.None);
    }

    /// <summary>The SSE writer's watchdog wants the transport's telemetry; a real one, built the way the host builds it.</summary>
    private static TransportTelemetry Telemetry() => new ServiceCollection()
        .AddMetrics()
        .AddSingleton<ConnectionCounter>()
        .AddSingleton<TransportTelemetry>()
        .BuildServiceProvider()
        .GetRequiredService<TransportTelemetry>();

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _sse.DisposeAsync();
        _watchdog.Dispose();
    }

    [Benchmark(Description = "protobuf TurnEvent(delta) parse")]
    public TurnEvent ParseDelta() => TurnEvent.Parser.ParseFrom(_deltaBytes);

    [Benchmark(Description = "NDJSON chunk line (Chat.Streaming)")]
    public int NdjsonLine()
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        OriginalEvents.WriteChunk(_json, _delta.Delta.Text, _delta.Delta.Index, isFinal: false, withTimestamp: true, _delta.Delta.EmittedAtTicks);
        _json.Flush();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        return _buffer.WrittenCount;
    }

    [Benchmark(Description = "NDJSON chunk line without timestamp")]
    public int NdjsonLineNoTimestamp()
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        OriginalEvents.WriteChunk(_json, _delta.Delta.Text, _delta.Delta.Index, isFinal: false, withTimestamp: false, _delta.Delta.EmittedAtTicks);
        _json.Flush();
        return _buffer.WrittenCount;
    }

    [Benchmark(Description = "SSE chunk frame (Chat.Sse)")]
    public long SseFrame()
    {
        var json = _sse.BeginFrame("chunk"u8, _delta.Sequence, 0);
        OriginalEvents.WriteChunk(json, _delta.Delta.Text, _delta.Delta.Index, isFinal: false, withTimestamp: false, _delta.Delta.EmittedAtTicks);
        _sse.EndFrame();
        // Drain what the frame wrote, as the socket would.
        _pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        _pipe.Reader.TryRead(out var read);
        var length = read.Buffer.Length;
        _pipe.Reader.AdvanceTo(read.Buffer.End);
        return length;
    }

    [Benchmark(Description = "WebSocket chunk frame, record (ChunkMessage.ToUtf8Json)")]
    public int WebSocketFrame() => new ChunkMessage(_delta.Delta.Text, _delta.Delta.Index, false, "5b2b…", _delta.TurnId)
    {
        EmittedAt = _delta.Delta.EmittedAtTicks,
    }.ToUtf8Json().Length;

    [Benchmark(Description = "WebSocket chunk frame, pooled (ChunkFrame.Rent)")]
    public int WebSocketPooledFrame()
    {
        var frame = websocket::Chat.WebSocket.Sockets.ChunkFrame.Rent(_delta.Delta.Text, _delta.Delta.Index, "5b2b…", _delta.TurnId, _delta.Delta.EmittedAtTicks);
        frame.Release();
        return frame.Length;
    }

    [Benchmark(Description = "public gRPC ChatResponse CHUNK, a new message per token (before)")]
    public int GrpcChunkNew() => new Chat.Contracts.Public.ChatResponse
    {
        Type = Chat.Contracts.Public.ChatResponse.Types.ResponseType.Chunk, SessionId = "5b2b…", ChunkText = _delta.Delta.Text,
        ChunkNumber = _delta.Delta.Index, ReplyId = _delta.TurnId, EmittedAt = _delta.Delta.EmittedAtTicks,
    }.CalculateSize();

    [Benchmark(Description = "public gRPC ChatResponse CHUNK, pooled (Chat.Grpc ChunkResponsePool)")]
    public int GrpcChunkPooled()
    {
        var response = _grpcChunks.Rent("5b2b…", _delta.Delta.Text, _delta.Delta.Index, _delta.TurnId, _delta.Delta.EmittedAtTicks);
        var size = response.CalculateSize();
        _grpcChunks.Return(response);
        return size;
    }
}
