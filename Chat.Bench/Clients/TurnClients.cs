using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Chat.Contracts.Security;
using Grpc.Core;
using Grpc.Net.Client;

namespace Chat.Bench.Clients;

/// <summary>Runs one turn (a new session each time) over one transport and reports what the client saw.</summary>
public interface ITurnClient
{
    Task RunTurnAsync(TurnObservation turn, CancellationToken cancellationToken);
}

/// <summary>The connections every client shares: HTTP/1.1 pooled without a per-server limit, h2c for gRPC.</summary>
public sealed class BenchConnections : IDisposable
{
    public BenchConnections()
    {
        Http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = int.MaxValue,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        })
        { Timeout = Timeout.InfiniteTimeSpan };
    }

    public HttpClient Http { get; }

    public static GrpcChannel Channel(Uri address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false },
        MaxReceiveMessageSize = null,
    });

    public void Dispose() => Http.Dispose();
}

internal static class Prompt
{
    public const string Text = "Benchmark turn: reply with the configured number of tokens.";
}

/// <summary>A0: chat.llm.v1 StreamTurn on the LLM service itself, the baseline every hop is compared to.</summary>
public sealed class LlmDirectClient(GrpcChannel channel, string? internalApiKey) : ITurnClient
{
    private readonly LlmService.LlmServiceClient _client = new(channel);

    // The LLM service admits only callers that present the internal credential, as the transports do.
    private readonly Metadata? _credential = internalApiKey is null ? null : new Metadata { { InternalCredential.MetadataKey, internalApiKey } };

    public async Task RunTurnAsync(TurnObservation turn, CancellationToken cancellationToken)
    {
        using var call = _client.StreamTurn(new TurnRequest { Message = Prompt.Text }, _credential, cancellationToken: cancellationToken);
        await foreach (var turnEvent in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            turn.WireBytes += turnEvent.CalculateSize();
            switch (turnEvent.KindCase)
            {
                case TurnEvent.KindOneofCase.Delta:
                    turn.Token(turnEvent.Delta.Index, turnEvent.Delta.EmittedAtTicks);
                    break;
                case TurnEvent.KindOneofCase.Error:
                    turn.Error = $"{turnEvent.Error.Code}: {turnEvent.Error.Message}";
                    return;
            }
        }
    }
}

/// <summary>REST: POST /chat, the whole reply at once (TTFT = end-to-end).</summary>
public sealed class RestClient(HttpClient http, Uri baseUrl) : ITurnClient
{
    private readonly Uri _chat = new(baseUrl, "chat");

    public async Task RunTurnAsync(TurnObservation turn, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(_chat, JsonBody(), cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        turn.WireBytes = body.Length;
        if (!response.IsSuccessStatusCode)
        {
            turn.Error = $"HTTP {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}";
            return;
        }

        using var json = JsonDocument.Parse(body);
        var tokens = json.RootElement.TryGetProperty("usage", out var usage) ? usage.GetProperty("output_tokens").GetInt32() : 0;
        turn.WholeReply(tokens);
    }

    internal static ByteArrayContent JsonBody()
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes($$"""{"message":"{{Prompt.Text}}"}"""));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}

/// <summary>
/// NDJSON (POST /chat/stream) and SSE (POST /chat/stream, data: lines): one chunk object per token. Lines are cut and
/// read as UTF-8 bytes straight from the response (no string, no document per line), so the client's own cost per
/// token stays small beside the chain it measures.
/// </summary>
public sealed class LineStreamClient(HttpClient http, Uri baseUrl, bool sse) : ITurnClient
{
    private readonly Uri _stream = new(baseUrl, "chat/stream");

    public async Task RunTurnAsync(TurnObservation turn, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _stream) { Content = RestClient.JsonBody() };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            turn.Error = $"HTTP {(int)response.StatusCode}";
            return;
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, leaveOpen: true));
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                var ended = false;
                while (!ended && buffer.PositionOf((byte)'\n') is { } end)
                {
                    ended = HandleLine(turn, buffer.Slice(0, end));
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (ended)
                {
                    return;
                }

                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }

        turn.Error ??= "stream ended before complete";
    }

    /// <summary>One line; true when the turn has ended.</summary>
    private bool HandleLine(TurnObservation turn, ReadOnlySequence<byte> line)
    {
        turn.WireBytes += line.Length + 1;
        Span<byte> copy = stackalloc byte[line.IsSingleSegment || line.Length > 2048 ? 0 : (int)line.Length];
        ReadOnlySpan<byte> bytes = line.IsSingleSegment ? line.FirstSpan : line.Length <= 2048 ? Copy(line, copy) : line.ToArray();
        if (sse)
        {
            if (!bytes.StartsWith("data: "u8))
            {
                return false;
            }

            bytes = bytes[6..];
        }

        return bytes.Length > 0 && ChunkJson.Handle(turn, bytes, "chunk"u8, "complete"u8);
    }

    private static ReadOnlySpan<byte> Copy(ReadOnlySequence<byte> line, Span<byte> into)
    {
        line.CopyTo(into);
        return into;
    }
}

/// <summary>WebSocket /ws: a connection per turn (the upgrade is part of TTFT), `chat` then chunks to response_complete.</summary>
public sealed class WebSocketClient(Uri wsUrl) : ITurnClient
{
    private static readonly byte[] Chat = Encoding.UTF8.GetBytes($$"""{"type":"chat","message":"{{Prompt.Text}}"}""");

    public async Task RunTurnAsync(TurnObservation turn, CancellationToken cancellationToken)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(wsUrl, cancellationToken);
        await socket.SendAsync(Chat, WebSocketMessageType.Text, true, cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
                    length += result.Count;
                }
                while (!result.EndOfMessage && length < buffer.Length);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    turn.Error ??= "closed before response_complete";
                    return;
                }

                turn.WireBytes += length;
                if (ChunkJson.Handle(turn, buffer.AsSpan(0, length), "chunk"u8, "response_complete"u8))
                {
                    break;
                }
            }

            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// Public gRPC chat.ChatService: CreateSession (the protocol has no implicit session, as the original), then a
/// Chat bidi call per turn on a shared h2c channel. The CreateSession round trip is part of this arm's TTFT.
/// </summary>
public sealed class PublicGrpcClient(GrpcChannel channel) : ITurnClient
{
    private readonly ChatService.ChatServiceClient _client = new(channel);

    public async Task RunTurnAsync(TurnObservation turn, CancellationToken cancellationToken)
    {
        var session = await _client.CreateSessionAsync(new Chat.Contracts.Public.CreateSessionRequest(), cancellationToken: cancellationToken);
        using var call = _client.Chat(cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(
            new ChatRequest { Type = ChatRequest.Types.MessageType.Message, SessionId = session.SessionId, Message = Prompt.Text }, cancellationToken);
        await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            turn.WireBytes += response.CalculateSize();
            switch (response.Type)
            {
                case ChatResponse.Types.ResponseType.Chunk:
                    turn.Token(response.ChunkNumber, response.EmittedAt);
                    break;
                case ChatResponse.Types.ResponseType.ResponseComplete:
                    await call.RequestStream.CompleteAsync();
                    return;
                case ChatResponse.Types.ResponseType.Error:
                    turn.Error = $"{response.ErrorCode}: {response.ErrorMessage}";
                    return;
            }
        }

        turn.Error ??= "stream ended before RESPONSE_COMPLETE";
    }
}

internal static class ChunkJson
{
    /// <summary>
    /// Handles one JSON event (its top-level fields only, read from UTF-8 as they come); true when the turn has ended
    /// (complete or error).
    /// </summary>
    public static bool Handle(TurnObservation turn, ReadOnlySpan<byte> json, ReadOnlySpan<byte> chunkType, ReadOnlySpan<byte> completeType)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            turn.Error = "not a JSON object: " + Encoding.UTF8.GetString(json);
            return true;
        }

        var isChunk = false;
        var isComplete = false;
        var isError = false;
        var chunkNumber = -1;
        long emitted = 0;
        var isFinal = false;
        var emptyText = false;
        string? message = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                isChunk = reader.ValueTextEquals(chunkType);
                isComplete = reader.ValueTextEquals(completeType);
                isError = reader.ValueTextEquals("error"u8);
            }
            else if (reader.ValueTextEquals("chunk_number"u8))
            {
                reader.Read();
                chunkNumber = reader.GetInt32();
            }
            else if (reader.ValueTextEquals("emitted_at"u8))
            {
                reader.Read();
                emitted = reader.GetInt64();
            }
            else if (reader.ValueTextEquals("is_final"u8))
            {
                reader.Read();
                isFinal = reader.TokenType == JsonTokenType.True;
            }
            else if (reader.ValueTextEquals("text"u8))
            {
                reader.Read();
                emptyText = reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length == 0;
            }
            else if (reader.ValueTextEquals("message"u8))
            {
                reader.Read();
                message = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (isChunk)
        {
            if (isFinal && emptyText)
            {
                return false; // the NDJSON/SSE end marker, not a token
            }

            turn.Token(chunkNumber, emitted);
            return false;
        }

        if (isComplete)
        {
            return true;
        }

        if (isError)
        {
            turn.Error = message ?? Encoding.UTF8.GetString(json);
            return true;
        }

        return false;
    }
}
