using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Chat.Tests.Infrastructure;
using Timeouts = Chat.Tests.Infrastructure.TaskExtensions;

namespace Chat.Tests.WebSocket;

/// <summary>A test client of /ws: sends JSON objects, receives JSON messages (every wait bounded).</summary>
public sealed class ChatSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly HttpMessageInvoker _invoker;

    private ChatSocket(ClientWebSocket socket, HttpMessageInvoker invoker)
    {
        _socket = socket;
        _invoker = invoker;
    }

    public ClientWebSocket Socket => _socket;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public static async Task<ChatSocket> ConnectAsync(Uri address, int? receiveBufferBytes = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        // A test's socket carries no trace context of this process (see Untraced).
        var handler = Untraced.Handler();
        handler.ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            if (receiveBufferBytes is { } bytes)
            {
                socket.ReceiveBufferSize = bytes;
            }

            try
            {
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
        var invoker = new HttpMessageInvoker(handler);
        var client = new ClientWebSocket();
        client.Options.KeepAliveInterval = TimeSpan.Zero;
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            client.Options.SetRequestHeader(name, value);
        }

        try
        {
            await client.ConnectAsync(address, invoker, Timeouts.DefaultTimeoutToken()).DefaultTimeout();
        }
        catch
        {
            client.Dispose();
            invoker.Dispose();
            throw;
        }

        return new ChatSocket(client, invoker);
    }

    public Task SendAsync(object message) => SendTextAsync(JsonSerializer.Serialize(message));

    public Task SendTextAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, Timeouts.DefaultTimeoutToken()).DefaultTimeout();

    /// <summary>The next message; null when the server closed the connection (see <see cref="CloseStatus"/>).</summary>
    public async Task<JsonElement?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var message = new MemoryStream();
        var buffer = new byte[16 * 1024];
        using var cancellation = new CancellationTokenSource(timeout ?? Timeouts.DefaultTimeoutSpan);
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer, cancellation.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
            }
        }
    }

    public async Task<JsonElement> ReceiveMessageAsync()
    {
        var message = await ReceiveAsync();
        Assert.True(message.HasValue, $"the server closed the connection ({CloseStatus}) instead of sending a message");
        return message.Value;
    }

    /// <summary>Reads until a message of the type arrives; returns every message read, that one last.</summary>
    public async Task<List<JsonElement>> ReceiveUntilAsync(string type)
    {
        var messages = new List<JsonElement>();
        while (true)
        {
            var message = await ReceiveMessageAsync();
            messages.Add(message);
            if (message.GetProperty("type").GetString() == type)
            {
                return messages;
            }
        }
    }

    /// <summary>Reads (and drops) messages until the server's close frame; returns its status.</summary>
    public async Task<WebSocketCloseStatus?> ReceiveCloseAsync()
    {
        while (await ReceiveAsync() is not null)
        {
        }

        return _socket.CloseStatus;
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", cancellation.Token);
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
            {
            }
        }

        _socket.Dispose();
        _invoker.Dispose();
    }
}

public static class JsonElementExtensions
{
    public static string Type(this JsonElement message) => message.GetProperty("type").GetString()!;

    public static string Str(this JsonElement message, string name) => message.GetProperty(name).GetString()!;

    public static int Int(this JsonElement message, string name) => message.GetProperty(name).GetInt32();
}
