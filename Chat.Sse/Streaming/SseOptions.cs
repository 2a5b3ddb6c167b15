using System.ComponentModel.DataAnnotations;

namespace Chat.Sse.Streaming;

/// <summary>Configuration section <c>Sse</c>.</summary>
public sealed class SseOptions
{
    public const string SectionName = "Sse";

    /// <summary>
    /// A comment line is sent when a stream has been idle this long, so proxies (YARP's 100 s activity timeout,
    /// nginx, load balancers) keep it open while the model thinks.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:05:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The <c>retry:</c> a browser's EventSource waits before reconnecting.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(3);
}
