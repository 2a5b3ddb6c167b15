using Chat.Cli.Rendering;

namespace Chat.Cli.Repl;

/// <summary>What <c>/stats</c> shows: this client's requests and timings (the original clients kept the same).</summary>
public sealed class ClientStatistics(TimeProvider timeProvider)
{
    private TimeSpan _totalResponseTime;
    private TimeSpan _totalFirstToken;
    private int _firstTokens;
    private DateTimeOffset _sessionStarted = timeProvider.GetUtcNow();

    public int TotalRequests { get; private set; }

    public int SuccessfulRequests { get; private set; }

    public int FailedRequests { get; private set; }

    public int CancelledRequests { get; private set; }

    public int TotalTokens { get; private set; }

    public TimeSpan? AverageResponseTime => SuccessfulRequests == 0 ? null : _totalResponseTime / SuccessfulRequests;

    public TimeSpan? AverageTimeToFirstToken => _firstTokens == 0 ? null : _totalFirstToken / _firstTokens;

    public TimeSpan SessionDuration => timeProvider.GetUtcNow() - _sessionStarted;

    public void SessionStarted() => _sessionStarted = timeProvider.GetUtcNow();

    public void Record(ReplyOutcome outcome)
    {
        TotalRequests++;
        if (outcome.Succeeded)
        {
            SuccessfulRequests++;
            _totalResponseTime += outcome.TotalTime;
            TotalTokens += outcome.Tokens;
        }
        else if (outcome.Cancelled)
        {
            CancelledRequests++;
        }
        else
        {
            FailedRequests++;
        }

        if (outcome.TimeToFirstToken is { } firstToken)
        {
            _totalFirstToken += firstToken;
            _firstTokens++;
        }
    }
}
