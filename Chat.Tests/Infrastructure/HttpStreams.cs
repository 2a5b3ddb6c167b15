using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Chat.Tests.Infrastructure;

/// <summary>A line of an NDJSON stream, parsed, with when it reached the client.</summary>
public sealed record NdjsonLine(JsonObject Json, TimeSpan ArrivedAfter)
{
    public string Type => (string)Json["type"]!;
}

/// <summary>One SSE frame as it came on the wire (comments are frames with only <see cref="Comment"/>).</summary>
public sealed record SseFrame(string? Id, string? Event, string? Data, string? Comment, int? Retry, TimeSpan ArrivedAfter)
{
    public JsonObject Json => JsonNode.Parse(Data!)!.AsObject();
}

public static class HttpStreams
{
    public static HttpRequestMessage PostJson(string path, object body) =>
        new(HttpMethod.Post, path) { Content = JsonContent.Create(body) };

    /// <summary>Sends and returns as soon as the headers are in, so the body can be read as it streams.</summary>
    public static Task<HttpResponseMessage> SendStreamingAsync(this HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken = default) =>
        client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);

    /// <summary>Reads NDJSON lines until the stream ends (or <paramref name="stopAfter"/> says stop).</summary>
    public static async Task<List<NdjsonLine>> ReadNdjsonAsync(this HttpResponseMessage response, long startedTimestamp, Func<NdjsonLine, bool>? stopAfter = null)
    {
        var lines = new List<NdjsonLine>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync().DefaultTimeout() is { } text)
        {
            if (text.Length == 0)
            {
                continue;
            }

            var line = new NdjsonLine(JsonNode.Parse(text)!.AsObject(), Stopwatch.GetElapsedTime(startedTimestamp));
            lines.Add(line);
            if (stopAfter?.Invoke(line) == true)
            {
                break;
            }
        }

        return lines;
    }

    /// <summary>Parses SSE frames (WHATWG rules for the fields we use) until the stream ends or <paramref name="stopAfter"/> says stop.</summary>
    public static async Task<List<SseFrame>> ReadSseAsync(this HttpResponseMessage response, long startedTimestamp, Func<SseFrame, bool>? stopAfter = null)
    {
        var frames = new List<SseFrame>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
        string? id = null, name = null, comment = null;
        int? retry = null;
        StringBuilder? data = null;
        while (await reader.ReadLineAsync().DefaultTimeout() is { } line)
        {
            if (line.Length == 0)
            {
                if (id is null && name is null && data is null && comment is null && retry is null)
                {
                    continue;
                }

                var frame = new SseFrame(id, name, data?.ToString(), comment, retry, Stopwatch.GetElapsedTime(startedTimestamp));
                frames.Add(frame);
                id = name = comment = null;
                retry = null;
                data = null;
                if (stopAfter?.Invoke(frame) == true)
                {
                    break;
                }

                continue;
            }

            if (line[0] == ':')
            {
                comment = line[1..].Trim();
                continue;
            }

            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": name = value; break;
                case "retry": retry = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "data": data = data is null ? new StringBuilder(value) : data.Append('\n').Append(value); break;
            }
        }

        return frames;
    }

    public static async Task<JsonObject> ReadJsonObjectAsync(this HttpResponseMessage response) =>
        (await JsonNode.ParseAsync(await response.Content.ReadAsStreamAsync()).DefaultTimeout())!.AsObject();

    /// <summary>Asserts a ProblemDetails response and returns its <c>detail</c>.</summary>
    public static async Task<string?> AssertProblemAsync(this HttpResponseMessage response, int status)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.ReadJsonObjectAsync();
        Assert.Equal(status, (int)problem["status"]!);
        return (string?)problem["detail"];
    }

    public static MediaTypeHeaderValue? ContentType(this HttpResponseMessage response) => response.Content.Headers.ContentType;

    public static string? Str(this JsonNode? node, string name) => (string?)node?[name];
}
