using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Chat.Contracts.Formats;

namespace Chat.Transports.Shared.Json;

/// <summary>
/// JSON values as the original's FastAPI servers wrote them, for the serializer (<see cref="Configure"/>) and for
/// hand-written event writers alike: timestamps in Python isoformat() shape, floats always with a fraction.
/// </summary>
public static class OriginalJson
{
    /// <summary>Adds the original's value formats to serializer options (the HTTP APIs', the WebSocket messages').</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.Converters.Add(new TimestampConverter());
        options.Converters.Add(new FloatConverter());
        return options;
    }

    /// <summary><c>"name": "2026-11-25T15:30:00.123456+00:00"</c>, formatted on the stack.</summary>
    public static void WriteTimestamp(Utf8JsonWriter writer, JsonEncodedText name, DateTimeOffset value)
    {
        Span<char> buffer = stackalloc char[OriginalFormat.TimestampLength];
        OriginalFormat.TryFormatTimestamp(value, buffer, out var written);
        writer.WriteString(name, buffer[..written]);
    }

    /// <summary><c>"name": 12.0</c>: see <see cref="WriteFloatValue"/>.</summary>
    public static void WriteFloat(Utf8JsonWriter writer, JsonEncodedText name, double value)
    {
        writer.WritePropertyName(name);
        WriteFloatValue(writer, value);
    }

    /// <summary>
    /// A float as Python's json module writes one: always with a fraction or an exponent (<c>12.0</c>, where .NET
    /// writes <c>12</c>), so a client that tells integers from floats (Python's isinstance, a typed decoder) reads a
    /// float wherever the original sent one.
    /// </summary>
    public static void WriteFloatValue(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value) && value == Math.Truncate(value) && Math.Abs(value) < 1e15)
        {
            Span<byte> buffer = stackalloc byte[24];
            value.TryFormat(buffer, out var written, "0.0", CultureInfo.InvariantCulture);
            writer.WriteRawValue(buffer[..written], skipInputValidation: true);
            return;
        }

        writer.WriteNumberValue(value);
    }

    private sealed class TimestampConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetDateTimeOffset();

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
        {
            Span<char> buffer = stackalloc char[OriginalFormat.TimestampLength];
            OriginalFormat.TryFormatTimestamp(value, buffer, out var written);
            writer.WriteStringValue(buffer[..written]);
        }
    }

    private sealed class FloatConverter : JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String && (options.NumberHandling & JsonNumberHandling.AllowReadingFromString) != 0
                ? double.Parse(reader.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)
                : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => WriteFloatValue(writer, value);
    }
}
