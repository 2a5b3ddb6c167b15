namespace Chat.Rest.Apis;

/// <summary>The original's reply body, plus usage and timings (additions its clients ignore).</summary>
public sealed record ChatResponse(
    string Response,
    string SessionId,
    double ProcessingTime,
    string Model,
    DateTimeOffset Timestamp,
    int MessageCount,
    bool IsNewSession)
{
    public required string TurnId { get; init; }

    public required string FinishReason { get; init; }

    public required ChatUsage Usage { get; init; }

    public required ChatTimings Timings { get; init; }

    public string? Provider { get; init; }
}

public sealed record ChatUsage(int InputTokens, int OutputTokens, int TotalTokens);

/// <summary>Seconds: until the model's first token, the model's whole reply (processing_time adds the transport's part).</summary>
public sealed record ChatTimings(double TimeToFirstToken, double ModelSeconds);
