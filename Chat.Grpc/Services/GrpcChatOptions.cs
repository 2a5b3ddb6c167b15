using System.ComponentModel.DataAnnotations;

namespace Chat.Grpc.Services;

/// <summary>Limits of the public chat.ChatService (configuration section <c>Grpc</c>).</summary>
public sealed class GrpcChatOptions
{
    public const string SectionName = "Grpc";

    /// <summary>Largest request message; a larger one fails the call with RESOURCE_EXHAUSTED.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxReceiveMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Responses queued per Chat stream. Replies wait for room (HTTP/2 flow control paces the model read);
    /// session updates for a stream whose queue is full are dropped (they are ephemeral).</summary>
    [Range(1, 100_000)]
    public int OutgoingQueueCapacity { get; set; } = 256;
}
