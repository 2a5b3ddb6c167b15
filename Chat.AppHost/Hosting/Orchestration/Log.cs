using Microsoft.Extensions.Logging;

namespace Chat.Hosting.Orchestration;

internal static partial class Log
{
    [LoggerMessage(Level = LogLevel.Information, Message = "{Replica} started (pid {ProcessId})")]
    public static partial void Started(ILogger logger, string replica, int processId);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Replica} is healthy after {Seconds:0.00} s")]
    public static partial void Healthy(ILogger logger, string replica, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Replica} is unhealthy")]
    public static partial void Unhealthy(ILogger logger, string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Replica} exited with code {ExitCode}; restarting in {Seconds:0.0} s. Last output: {LastLine}")]
    public static partial void Crashed(ILogger logger, string replica, int exitCode, double seconds, string lastLine);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Replica} stopped on request")]
    public static partial void Stopped(ILogger logger, string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Killing {Replica} (pid {ProcessId}) on request")]
    public static partial void Killing(ILogger logger, string replica, int processId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Supervision of {Replica} failed")]
    public static partial void SupervisionFailed(ILogger logger, string replica, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Replica} could not be started: {Reason}")]
    public static partial void FailedToStart(ILogger logger, string replica, string reason);
}
