using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Streaming;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Chat.Conversation.Engine;

/// <summary>
/// What every conversation of a replica shares: the LLM service client, the stream write timeout, the transport
/// meter, this replica's name (the origin of the session events it publishes). One per host; a framing asks it for a
/// <see cref="ConversationEngine{TFrame}"/> per connection.
/// </summary>
public sealed class ConversationServices(
    LlmService.LlmServiceClient llm,
    IOptions<TransportOptions> transportOptions,
    TransportTelemetry telemetry,
    ILoggerFactory loggerFactory,
    IConfiguration configuration,
    IHostEnvironment environment)
{
    public LlmService.LlmServiceClient Llm => llm;

    public TransportTelemetry Telemetry => telemetry;

    internal ILoggerFactory LoggerFactory => loggerFactory;

    /// <summary>"&lt;service&gt;/&lt;instance&gt;": where a session event came from.</summary>
    public string Origin { get; } = ServiceInstance.Describe(configuration, environment.ApplicationName);

    /// <param name="framing">The transport's side of the connection.</param>
    /// <param name="settings">Where the protocols differ.</param>
    /// <param name="principal">The caller as the gateway authenticated it (empty: anonymous).</param>
    /// <param name="connectionAborted">Ends the conversation when the connection (or call) goes.</param>
    public ConversationEngine<TFrame> Create<TFrame>(
        IConversationFraming<TFrame> framing, ConversationSettings settings, string principal, CancellationToken connectionAborted) =>
        new(framing, settings, this, principal, connectionAborted);

    internal StreamWriteWatchdog CreateWatchdog(string protocol, Action abort) => new(
        transportOptions.Value.StreamWriteTimeout, protocol, abort, telemetry, loggerFactory.CreateLogger<StreamWriteWatchdog>());
}
