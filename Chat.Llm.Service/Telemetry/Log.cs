namespace Chat.Llm.Service.Telemetry;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Model provider {Provider} with model {Model}")]
    public static partial void ProviderSelected(ILogger logger, string provider, string model);

    [LoggerMessage(2, LogLevel.Information, "Turn {TurnId} on session {SessionId} completed: {Chunks} chunks, finish {FinishReason}, {TotalSeconds:0.000} s")]
    public static partial void TurnCompleted(ILogger logger, string turnId, string sessionId, int chunks, string finishReason, double totalSeconds);

    [LoggerMessage(3, LogLevel.Warning, "Turn {TurnId} on session {SessionId} failed with {Code}: {Reason}")]
    public static partial void TurnFailed(ILogger logger, string turnId, string sessionId, string code, string reason);

    [LoggerMessage(4, LogLevel.Error, "Turn {TurnId}: the model call failed unexpectedly")]
    public static partial void TurnCrashed(ILogger logger, Exception exception, string turnId);

    [LoggerMessage(5, LogLevel.Warning, "Turn {TurnId}: writing its events to the resume buffer failed")]
    public static partial void BufferWriteFailed(ILogger logger, Exception exception, string turnId);

    [LoggerMessage(6, LogLevel.Error, "Turn {TurnId}: storing the turn in Redis failed; the session lock expires on its own")]
    public static partial void CompleteTurnFailed(ILogger logger, Exception exception, string turnId);

    [LoggerMessage(7, LogLevel.Information, "Turn {TurnId} cancelled on request")]
    public static partial void TurnCancelRequested(ILogger logger, string turnId);

    [LoggerMessage(8, LogLevel.Warning, "Gemini call returned HTTP {Status} ({GeminiStatus}); retry {Attempt} in {DelaySeconds:0.###} s")]
    public static partial void GeminiRetrying(ILogger logger, int status, string geminiStatus, int attempt, double delaySeconds);

    [LoggerMessage(9, LogLevel.Warning, "Gemini call failed with HTTP {Status} ({GeminiStatus}): {Message}")]
    public static partial void GeminiFailed(ILogger logger, int status, string geminiStatus, string message);

    [LoggerMessage(11, LogLevel.Warning, "Turn {TurnId}: the OpenAI-compatible endpoint answered HTTP {Status}")]
    public static partial void OpenAIFailed(ILogger logger, Exception exception, string turnId, int status);

    [LoggerMessage(10, LogLevel.Warning, "Subscribing to turn cancellations failed")]
    public static partial void CancelSubscriptionFailed(ILogger logger, Exception exception);

    [LoggerMessage(12, LogLevel.Warning, "Turn {TurnId}: its resume buffer was lost in Redis; started again at sequence {Sequence} under a new epoch")]
    public static partial void BufferRecreated(ILogger logger, string turnId, long sequence);
}
