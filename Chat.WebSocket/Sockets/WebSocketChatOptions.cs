using System.ComponentModel.DataAnnotations;

namespace Chat.WebSocket.Sockets;

/// <summary>Limits and timings of the /ws endpoint (configuration section <c>WebSocket</c>).</summary>
public sealed class WebSocketChatOptions
{
    public const string SectionName = "WebSocket";

    /// <summary>Server pings keep idle connections alive through proxies (YARP closes streams idle for 100 s).</summary>
    [Range(1, 3600)]
    public int KeepAliveIntervalSeconds { get; set; } = 20;

    /// <summary>How long a ping may go unanswered before the connection is dropped; 0 turns the check off.</summary>
    [Range(0, 3600)]
    public int KeepAliveTimeoutSeconds { get; set; } = 30;

    /// <summary>Largest client message accepted; a larger one closes the connection with 1009.</summary>
    [Range(256, 16 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Frames queued for a client that does not read; past this the connection is closed with 1008.</summary>
    [Range(1, 1_000_000)]
    public int OutgoingQueueCapacity { get; set; } = 1024;

    /// <summary>How long the close handshake may take before the socket is aborted.</summary>
    [Range(1, 600)]
    public int CloseTimeoutSeconds { get; set; } = 5;
}
