namespace Chat.Tests.Gateway;

/// <summary>The gateway with API keys and a cap of two concurrent streams per caller, so the third is refused.</summary>
public sealed class StreamCapGatewayFixture : GatewayFixture
{
    public const int Cap = 2;
    public const string SseCallerKey = "erin-stream-key";
    public const string WebSocketCallerKey = "frank-stream-key";
    public const string GrpcCallerKey = "grace-stream-key";
    public const string OtherCallerKey = "heidi-stream-key";

    protected override void AddSettings(IDictionary<string, string> settings)
    {
        settings["Gateway:ApiKeys:erin:Key"] = SseCallerKey;
        settings["Gateway:ApiKeys:frank:Key"] = WebSocketCallerKey;
        settings["Gateway:ApiKeys:grace:Key"] = GrpcCallerKey;
        settings["Gateway:ApiKeys:heidi:Key"] = OtherCallerKey;
        settings["Gateway:Limits:MaxConcurrentStreamsPerClient"] = Cap.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Gateway:Limits:StreamRetryAfter"] = "00:00:03";
    }
}

[CollectionDefinition(Name)]
public sealed class StreamCapGatewayCollection : ICollectionFixture<StreamCapGatewayFixture>
{
    public const string Name = "StreamCapGateway";
}
