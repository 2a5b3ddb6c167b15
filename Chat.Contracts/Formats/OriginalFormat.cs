using System.Globalization;

namespace Chat.Contracts.Formats;

/// <summary>
/// The value formats of the original Python servers, for every public surface (chat.proto and the JSON APIs), so a
/// client written against the original reads our values the way it read theirs. See docs/contracts.md.
/// </summary>
public static class OriginalFormat
{
    /// <summary>Characters of the longest timestamp: <c>2026-11-25T15:30:00.123456+00:00</c>.</summary>
    public const int TimestampLength = 32;

    // Python's datetime.isoformat() of an aware UTC datetime. The original printed naive local time (no offset); the
    // shape is the same and datetime.fromisoformat() reads both, on every Python 3 version the original supported
    // (3.7–3.10 accept only this: 6 fraction digits and a ±HH:MM offset, never .NET's 7 digits or a 'Z').
    private const string MicrosecondFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'+00:00'";

    // isoformat() of a time with no microseconds leaves the fraction out.
    private const string SecondFormat = "yyyy-MM-dd'T'HH:mm:ss'+00:00'";

    private static SecondStamp? s_currentSecond;

    /// <summary><c>2026-11-25T15:30:00.123456+00:00</c>: the instant in UTC, to the microsecond.</summary>
    public static string Timestamp(DateTimeOffset value)
    {
        Span<char> buffer = stackalloc char[TimestampLength];
        TryFormatTimestamp(value, buffer, out var written);
        return new string(buffer[..written]);
    }

    /// <summary>The <see cref="Timestamp(DateTimeOffset)"/> text, without a string (for writers on a hot path).</summary>
    public static bool TryFormatTimestamp(DateTimeOffset value, Span<char> destination, out int written) =>
        value.UtcDateTime.TryFormat(destination, out written, MicrosecondFormat, CultureInfo.InvariantCulture);

    /// <summary>
    /// Now, to the whole second (<c>2026-11-25T15:30:05+00:00</c>), one string per second shared by every caller: a
    /// timestamp on each streamed token that costs no allocation per token.
    /// </summary>
    public static string CurrentSecondTimestamp()
    {
        var second = DateTime.UtcNow.Ticks / TimeSpan.TicksPerSecond;
        var cached = Volatile.Read(ref s_currentSecond);
        if (cached is not null && cached.Second == second)
        {
            return cached.Text;
        }

        var text = new DateTime(second * TimeSpan.TicksPerSecond, DateTimeKind.Utc).ToString(SecondFormat, CultureInfo.InvariantCulture);
        Volatile.Write(ref s_currentSecond, new SecondStamp(second, text));
        return text;
    }

    /// <summary>Python's <c>int(x)</c> for an int32 field: the fraction dropped (toward zero), saturated, NaN as 0.</summary>
    public static int Whole(double value) => value switch
    {
        double.NaN => 0,
        >= int.MaxValue => int.MaxValue,
        <= int.MinValue => int.MinValue,
        _ => (int)value,
    };

    private sealed record SecondStamp(long Second, string Text);
}
