using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Chat.Transports.Shared.Hosting;

/// <summary>This replica's identity and counters, as the shared routes report them.</summary>
public sealed class TransportRuntime(
    ChatTransportDescriptor descriptor,
    ConnectionCounter connections,
    IConfiguration configuration,
    IHostEnvironment environment,
    IOptions<JsonOptions> json)
{
    private readonly long _startedAt = Stopwatch.GetTimestamp();

    public ChatTransportDescriptor Descriptor { get; } = descriptor;

    public ConnectionCounter Connections { get; } = connections;

    public string Instance { get; } = ServiceInstance.Describe(configuration, environment.ApplicationName);

    public JsonSerializerOptions JsonOptions { get; } = json.Value.SerializerOptions;

    /// <summary>What /health and / name as the model when the LLM service cannot be asked.</summary>
    public string FallbackModel { get; } = configuration["GENAI_MODEL_ID"] is { Length: > 0 } model ? model : "unknown";

    public TimeSpan Uptime => Stopwatch.GetElapsedTime(_startedAt);

    public int? StreamingConnections =>
        Descriptor.ConnectionCounter == ConnectionCounterField.Streaming ? Connections.Current : null;

    public int? WebSocketConnections =>
        Descriptor.ConnectionCounter == ConnectionCounterField.WebSocket ? Connections.Current : null;

    public long? TotalConnections =>
        Descriptor.ConnectionCounter == ConnectionCounterField.None ? null : Connections.Total;
}
