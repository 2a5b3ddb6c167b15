using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Chat.WebSocket.Sockets;

/// <summary>The component's ActivitySource and meters: connections open, messages, slow readers dropped.</summary>
public sealed class WebSocketTelemetry
{
    public const string Name = "Chat.WebSocket";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _messagesReceived;
    private readonly Counter<long> _slowReaderDisconnects;
    private long _slowReaderDisconnectCount;

    public WebSocketTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        _connections = meter.CreateUpDownCounter<long>("chat.websocket.connections", "{connection}", "Open WebSocket connections");
        _messagesReceived = meter.CreateCounter<long>("chat.websocket.messages_received", "{message}", "Client messages by type");
        _slowReaderDisconnects = meter.CreateCounter<long>(
            "chat.websocket.slow_reader_disconnects", "{connection}", "Connections closed because their outgoing queue overflowed");
    }

    /// <summary>Slow readers dropped since start (the counter's running total, for /stats and tests).</summary>
    public long SlowReaderDisconnects => Interlocked.Read(ref _slowReaderDisconnectCount);

    public void ConnectionOpened() => _connections.Add(1);

    public void ConnectionClosed() => _connections.Add(-1);

    public void MessageReceived(string type) => _messagesReceived.Add(1, new KeyValuePair<string, object?>("chat.message.type", type));

    public void SlowReaderDisconnected()
    {
        Interlocked.Increment(ref _slowReaderDisconnectCount);
        _slowReaderDisconnects.Add(1);
    }
}
