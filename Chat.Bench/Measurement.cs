using System.Diagnostics;
using HdrHistogram;

namespace Chat.Bench;

/// <summary>Stopwatch ticks to microseconds (the LLM service stamps tokens with the same machine-wide clock).</summary>
public static class Ticks
{
    public static long ToMicroseconds(long ticks) => ticks * 1_000_000 / Stopwatch.Frequency;

    public static long FromMilliseconds(double milliseconds) => (long)(milliseconds * Stopwatch.Frequency / 1000);
}

/// <summary>What one client saw of one turn; filled by a transport client, recorded into its arm's figures.</summary>
public sealed class TurnObservation
{
    private long _lastReceive;

    public TurnObservation(long intendedStartTicks) => IntendedStartTicks = intendedStartTicks;

    public long IntendedStartTicks { get; }
    public long FirstTokenTicks { get; private set; }
    public long EndTicks { get; set; }
    public int Tokens { get; private set; }
    public int Reordered { get; private set; }
    public long WireBytes { get; set; }
    public string? Error { get; set; }
    public List<long> LagMicroseconds { get; } = new(64);
    public List<long> InterTokenMicroseconds { get; } = new(64);
    private int _lastChunkNumber;

    /// <summary>One token arrived: <paramref name="chunkNumber"/> 1-based as sent, <paramref name="emittedAtTicks"/> 0 if unknown.</summary>
    public void Token(int chunkNumber, long emittedAtTicks)
    {
        var now = Stopwatch.GetTimestamp();
        if (Tokens == 0)
        {
            FirstTokenTicks = now;
        }
        else
        {
            InterTokenMicroseconds.Add(Ticks.ToMicroseconds(now - _lastReceive));
        }

        if (chunkNumber != _lastChunkNumber + 1)
        {
            Reordered++;
        }

        _lastChunkNumber = chunkNumber;
        _lastReceive = now;
        Tokens++;
        if (emittedAtTicks > 0)
        {
            var lag = Math.Max(0, Ticks.ToMicroseconds(now - emittedAtTicks));
            LagMicroseconds.Add(lag);
            if (LagTrace.Enabled)
            {
                LagTrace.Samples.Enqueue((now, lag));
            }
        }
    }

    /// <summary>A whole reply at once (REST): its tokens arrive together, TTFT = end-to-end.</summary>
    public void WholeReply(int tokens)
    {
        FirstTokenTicks = Stopwatch.GetTimestamp();
        Tokens = tokens;
        _lastChunkNumber = tokens;
    }
}

/// <summary>The HdrHistogram figures of one arm (A0, A1/sse, A2/sse…) in one scenario, in microseconds.</summary>
public sealed class ArmFigures(string arm, string transport)
{
    private const long Highest = 600_000_000; // 10 min in µs
    private readonly Lock _gate = new();

    public string Arm { get; } = arm;
    public string Transport { get; } = transport;
    public string Name => Arm == "A0" ? "A0 llm-grpc" : $"{Arm} {Transport}";
    public LongHistogram Ttft { get; } = new(Highest, 3);
    public LongHistogram Lag { get; } = new(Highest, 3);
    public LongHistogram InterToken { get; } = new(Highest, 3);
    public LongHistogram EndToEnd { get; } = new(Highest, 3);
    public long Turns { get; private set; }
    public long Tokens { get; private set; }
    public long Lost { get; private set; }
    public long Reordered { get; private set; }
    public long Errors { get; private set; }
    public long WireBytes { get; private set; }
    public List<string> ErrorSamples { get; } = [];

    public void Record(TurnObservation turn, int expectedTokens)
    {
        lock (_gate)
        {
            Turns++;
            if (turn.Error is not null)
            {
                Errors++;
                if (ErrorSamples.Count < 5)
                {
                    ErrorSamples.Add(turn.Error);
                }

                return;
            }

            Tokens += turn.Tokens;
            Lost += Math.Max(0, expectedTokens - turn.Tokens);
            Reordered += turn.Reordered;
            WireBytes += turn.WireBytes;
            Ttft.RecordValue(Math.Max(0, Ticks.ToMicroseconds(turn.FirstTokenTicks - turn.IntendedStartTicks)));
            EndToEnd.RecordValue(Math.Max(0, Ticks.ToMicroseconds(turn.EndTicks - turn.IntendedStartTicks)));
            foreach (var lag in turn.LagMicroseconds)
            {
                Lag.RecordValue(lag);
            }

            foreach (var gap in turn.InterTokenMicroseconds)
            {
                InterToken.RecordValue(gap);
            }
        }
    }
}

/// <summary>
/// <c>--lag-trace</c>: every token of the measured load scenario, its arrival (Unix µs) and lag (µs), one line each
/// in lag.txt, to line the tail up in time with other events (GC pauses of a service, say: docs/performance.md, run 5).
/// </summary>
public static class LagTrace
{
    /// <summary>Set when the measured load starts (the warm-ups and the single-client scenario are not recorded).</summary>
    public static bool Enabled { get; set; }

    public static System.Collections.Concurrent.ConcurrentQueue<(long At, long LagMicroseconds)> Samples { get; } = new();

    public static async Task WriteAsync(string path, CancellationToken cancellationToken)
    {
        var offsetMicroseconds = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000 - Ticks.ToMicroseconds(Stopwatch.GetTimestamp());
        await File.WriteAllLinesAsync(path, Samples.Select(s => $"{Ticks.ToMicroseconds(s.At) + offsetMicroseconds} {s.LagMicroseconds}"), cancellationToken);
    }
}
