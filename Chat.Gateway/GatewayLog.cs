namespace Chat.Gateway;

internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Rejected a request to {Path}: invalid API key")]
    public static partial void InvalidApiKey(ILogger logger, string path);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Rate limit reached for {Partition} on {Path}")]
    public static partial void RateLimited(ILogger logger, string partition, string path);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information,
        Message = "Refused a {Protocol} stream to {Path} for {Partition}: {Cap} streams already open")]
    public static partial void StreamCapReached(ILogger logger, string protocol, string path, string partition, int cap);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning,
        Message = "Answered {Status} to {Method} {Path}: the {Service} service could not be reached ({Error})")]
    public static partial void DestinationFailed(ILogger logger, string method, string path, string service,
        Yarp.ReverseProxy.Forwarder.ForwarderError error, int status);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning,
        Message = "The {Service} service went away during the gRPC call to {Path} ({Error}): ended it with UNAVAILABLE")]
    public static partial void DestinationLostMidStream(ILogger logger, string path, string service, Yarp.ReverseProxy.Forwarder.ForwarderError error);
}
