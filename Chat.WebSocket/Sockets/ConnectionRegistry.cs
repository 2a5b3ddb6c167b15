using System.Collections.Concurrent;
using System.Net.WebSockets;

namespace Chat.WebSocket.Sockets;

/// <summary>
/// The connections this replica holds: counted for /health and /stats, and closed with 1001 (going away) when the
/// host stops, so clients reconnect to another replica instead of seeing a reset.
/// </summary>
public sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<string, ChatConnection> _connections = new();

    public ConnectionRegistry(IHostApplicationLifetime lifetime) =>
        lifetime.ApplicationStopping.Register(CloseAll);

    public int Count => _connections.Count;

    public void Add(ChatConnection connection) => _connections[connection.ConnectionId] = connection;

    public void Remove(ChatConnection connection) => _connections.TryRemove(connection.ConnectionId, out _);

    private void CloseAll()
    {
        foreach (var connection in _connections.Values)
        {
            connection.RequestClose(WebSocketCloseStatus.EndpointUnavailable, "Server shutting down");
        }
    }
}
