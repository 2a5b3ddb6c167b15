using System.ComponentModel.DataAnnotations;

namespace Chat.Transports.Shared.Hosting;

/// <summary>
/// Limits every transport applies to its calls to Chat.Llm.Service and to its streams to clients (configuration
/// section <c>Transport</c>).
/// </summary>
public sealed class TransportOptions
{
    public const string SectionName = "Transport";

    /// <summary>Deadline of one session/stats call (unary) to the LLM service.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline of one whole turn (the model's reply streamed to the end); past it the client gets 504.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan TurnTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Longest message accepted, in characters; checked here so an oversized body never reaches the LLM service
    /// (which applies its own limit as well and answers INVALID_ARGUMENT past it).
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxMessageLength { get; set; } = 32_000;

    /// <summary>Deadline of the LLM service stats call behind /health, short so a slow dependency cannot stall probes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan HealthCallTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Longest one write of a stream event to the client may stay pending (the client's buffers full because it
    /// stopped reading); past it the stream is dropped and counted (<c>chat.transport.streams.dropped</c>).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan StreamWriteTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
