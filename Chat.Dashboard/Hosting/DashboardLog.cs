using Microsoft.Extensions.Logging;

namespace Chat.Dashboard.Hosting;

internal static partial class DashboardLog
{
    [LoggerMessage(1, LogLevel.Information, "Dashboard: {UiUrl} (OTLP/gRPC {OtlpGrpcEndpoint}, OTLP/HTTP {OtlpHttpEndpoint})")]
    public static partial void Listening(ILogger logger, Uri uiUrl, Uri otlpGrpcEndpoint, Uri otlpHttpEndpoint);

    [LoggerMessage(2, LogLevel.Information, "Dashboard login: {LoginUrl}")]
    public static partial void LoginUrl(ILogger logger, Uri loginUrl);

    [LoggerMessage(3, LogLevel.Information, "Services send telemetry to the external OTLP endpoint {Endpoint}; the dashboard shows resources and console logs only")]
    public static partial void ExternalTelemetry(ILogger logger, string endpoint);

    [LoggerMessage(4, LogLevel.Warning, "Command {Command} on {Replica} failed")]
    public static partial void CommandFailed(ILogger logger, string command, string replica, Exception exception);
}
