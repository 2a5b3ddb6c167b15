using System.Buffers;
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

/// <summary>NDJSON (POST /chat/stream) and SSE (POST /chat/stream, data: lines): one chunk object per token.</summary>
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
        using var reader = new StreamReader(stream, Encoding.UTF8, false, 4096);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            turn.WireBytes += line.Length + 1;
            if (sse)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    continue;
                }

                line = line[6..];
            }

            if (line.Length == 0)
            {
                continue;
            }

            if (ChunkJson.Handle(turn, line, "chunk", "complete"))
            {
                return;
            }
        }

        turn.Error ??= "stream ended before complete";
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
                if (ChunkJson.Handle(turn, Encoding.UTF8.GetString(buffer, 0, length), "chunk", "response_complete"))
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
    /// <summary>Handles one JSON event; true when the turn has ended (complete or error).</summary>
    public static bool Handle(TurnObservation turn, string json, string chunkType, string completeType)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var type = root.GetProperty("type").GetString();
        if (type == chunkType)
        {
            if (root.TryGetProperty("is_final", out var isFinal) && isFinal.GetBoolean() && root.GetProperty("text").GetString() is "")
            {
                return false; // the NDJSON/SSE end marker, not a token
            }

            var emitted = root.TryGetProperty("emitted_at", out var e) ? e.GetInt64() : 0;
            turn.Token(root.GetProperty("chunk_number").GetInt32(), emitted);
            return false;
        }

        if (type == completeType)
        {
            return true;
        }

        if (type == "error")
        {
            turn.Error = root.TryGetProperty("message", out var m) ? m.GetString() : json;
            return true;
        }

        return false;
    }
}

