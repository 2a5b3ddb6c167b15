using System.Diagnostics.Metrics;

namespace Chat.Gateway;

/// <summary>
/// The gateway's own metrics (meter <c>Chat.Gateway</c>; ASP.NET Core and YARP instrumentation cover the requests
/// themselves): streams open through this gateway process and streams refused by the per-caller cap.
/// </summary>
public sealed class GatewayTelemetry
{
    public const string MeterName = "Chat.Gateway";
    public const string ProtocolTag = "chat.protocol";

    private readonly Counter<long> _streamsRefused;
    private long _streamsOpen;

    public GatewayTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _streamsRefused = meter.CreateCounter<long>(
            "chat.gateway.streams.refused", "{stream}", "Streams refused because the caller already had its cap open, by protocol");
        meter.CreateObservableUpDownCounter(
            "chat.gateway.streams.active", () => Interlocked.Read(ref _streamsOpen), "{stream}", "Streams open through this gateway process (counted while a cap is on)");
    }

    public void StreamOpened() => Interlocked.Increment(ref _streamsOpen);

    public void StreamClosed() => Interlocked.Decrement(ref _streamsOpen);

    public void StreamRefused(string protocol) => _streamsRefused.Add(1, new KeyValuePair<string, object?>(ProtocolTag, protocol));
}
