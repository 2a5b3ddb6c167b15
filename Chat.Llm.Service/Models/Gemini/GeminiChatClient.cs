using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Chat.Llm.Service.Telemetry;
using Grpc.Core;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Service.Models.Gemini;

/// <summary>
/// Gemini over its REST API (v1beta <c>generateContent</c> and <c>streamGenerateContent?alt=sse</c>), as an IChatClient.
/// The key travels in the <c>x-goog-api-key</c> header, never in a URL or a log line. HTTP errors become
/// <see cref="ModelCallException"/> with the matching gRPC status; 429 and 5xx are retried a bounded number of times
/// before any text is streamed, honouring Gemini's RetryInfo.retryDelay.
/// </summary>
public sealed class GeminiChatClient : IChatClient
{
    public const string ProviderName = "gcp.gemini";
    public const string ApiKeyHeader = "x-goog-api-key";

    private readonly HttpClient _http;
    private readonly GeminiOptions _options;
    private readonly ILogger _logger;
    private readonly ChatClientMetadata _metadata;

    public GeminiChatClient(HttpClient http, GeminiOptions options, ILogger logger)
    {
        _http = http;
        _options = options;
        _logger = logger;
        _metadata = new ChatClientMetadata(ProviderName, new Uri(options.BaseUrl), options.ModelId);
    }

    public async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var response = await SendWithRetriesAsync(messages, options, streaming: false, cancellationToken);
        var json = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken)
            ?? throw new ModelCallException(StatusCode.Unavailable, "The model returned an empty response.", retryable: true);
        var update = ToUpdate(json, options);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, update.Contents))
        {
            FinishReason = update.FinishReason,
            ModelId = update.ModelId,
            ResponseId = update.ResponseId,
            Usage = update.Contents.OfType<UsageContent>().LastOrDefault()?.Details,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var response = await SendWithRetriesAsync(messages, options, streaming: true, cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(body, Encoding.UTF8);

        // SSE: "data: <json>" lines, events separated by a blank line; ReadLineAsync takes CRLF and LF alike.
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0)
                {
                    yield return ParseEvent(data.ToString(), options);
                    data.Clear();
                }

                continue;
            }

            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                if (data.Length > 0)
                {
                    data.Append('\n');
                }

                data.Append(line.AsSpan(line.Length > 5 && line[5] == ' ' ? 6 : 5));
            }
        }

        if (data.Length > 0)
        {
            yield return ParseEvent(data.ToString(), options);
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
    }

    private ChatResponseUpdate ParseEvent(string data, ChatOptions? options)
    {
        var json = JsonNode.Parse(data) as JsonObject
            ?? throw new ModelCallException(StatusCode.Unavailable, "The model sent an unreadable event.", retryable: true);
        if (json["error"] is JsonObject error)
        {
            // An error after the stream started arrives as an event holding an error object.
            var (code, message, _) = DescribeError((int?)error["code"] ?? 500, json);
            throw new ModelCallException(code, message, RpcIsRetryable(code));
        }

        return ToUpdate(json, options);
    }

    private async Task<HttpResponseMessage> SendWithRetriesAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming, CancellationToken cancellationToken)
    {
        var body = BuildRequest(messages, options).ToJsonString();
        var model = string.IsNullOrWhiteSpace(options?.ModelId) ? _options.ModelId : options.ModelId;
        var uri = new Uri($"{_options.BaseUrl.TrimEnd('/')}/v1beta/models/{Uri.EscapeDataString(model)}:"
            + (streaming ? "streamGenerateContent?alt=sse" : "generateContent"));

        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add(ApiKeyHeader, _options.ApiKey);
            if (streaming)
            {
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            }

            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            }
            catch (HttpRequestException exception)
            {
                throw new ModelCallException(StatusCode.Unavailable, "The model could not be reached.", retryable: true, inner: exception);
            }
            catch (TaskCanceledException exception) when (!cancellationToken.IsCancellationRequested)
            {
                throw new ModelCallException(StatusCode.DeadlineExceeded, "The model did not answer in time.", retryable: true, inner: exception);
            }

            if (response.IsSuccessStatusCode)
            {
                return response;
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                var errorBody = await ReadErrorAsync(response, cancellationToken);
                var (code, message, retryDelay) = DescribeError(status, errorBody);
                var geminiStatus = (string?)errorBody?["error"]?["status"] ?? response.StatusCode.ToString();
                var retryable = RpcIsRetryable(code);
                var delay = retryDelay ?? Backoff(attempt);
                if (retryable && attempt < _options.MaxRetries && delay.TotalSeconds <= _options.MaxRetryDelaySeconds)
                {
                    Log.GeminiRetrying(_logger, status, geminiStatus, attempt + 1, delay.TotalSeconds);
                    await Task.Delay(delay, cancellationToken);
                    continue;
                }

                Log.GeminiFailed(_logger, status, geminiStatus, message);
                throw new ModelCallException(code, message, retryable, retryDelay);
            }
        }
    }

    private static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(8000, 250 * Math.Pow(2, attempt)) * (0.8 + Random.Shared.NextDouble() * 0.4));

    private static async Task<JsonObject?> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The gRPC status for a Gemini error, a message safe for users, and RetryInfo.retryDelay if given.</summary>
    internal static (StatusCode Code, string Message, TimeSpan? RetryDelay) DescribeError(int httpStatus, JsonObject? body)
    {
        var error = body?["error"] as JsonObject;
        TimeSpan? retryDelay = null;
        foreach (var detail in error?["details"] as JsonArray ?? [])
        {
            if (((string?)detail?["@type"])?.EndsWith("google.rpc.RetryInfo", StringComparison.Ordinal) == true
                && ((string?)detail!["retryDelay"])?.TrimEnd('s') is { } seconds
                && double.TryParse(seconds, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                retryDelay = TimeSpan.FromSeconds(value);
            }
        }

        var code = httpStatus switch
        {
            400 => StatusCode.InvalidArgument,
            401 => StatusCode.Unauthenticated,
            403 => StatusCode.PermissionDenied,
            404 => StatusCode.NotFound,
            429 => StatusCode.ResourceExhausted,
            504 => StatusCode.DeadlineExceeded,
            >= 500 => StatusCode.Unavailable,
            _ => StatusCode.Unknown,
        };
        var message = code switch
        {
            StatusCode.InvalidArgument => "The model rejected the request as invalid.",
            StatusCode.Unauthenticated or StatusCode.PermissionDenied => "The model refused access (check the API key and its permissions).",
            StatusCode.NotFound => "The configured model does not exist.",
            StatusCode.ResourceExhausted => retryDelay is { } wait
                ? $"The model's rate limit or quota was exceeded; retry in {Math.Ceiling(wait.TotalSeconds)} s."
                : "The model's rate limit or quota was exceeded.",
            StatusCode.DeadlineExceeded => "The model did not answer in time.",
            _ => "The model is unavailable or overloaded; try again shortly.",
        };
        return (code, message, retryDelay);
    }

    private static bool RpcIsRetryable(StatusCode code) =>
        code is StatusCode.ResourceExhausted or StatusCode.Unavailable or StatusCode.DeadlineExceeded;

    /// <summary>History as <c>contents</c> with roles user/model; system messages into <c>systemInstruction</c>.</summary>
    internal static JsonObject BuildRequest(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var contents = new JsonArray();
        var system = new List<string>();
        foreach (var message in messages)
        {
            if (message.Role == ChatRole.System)
            {
                system.Add(message.Text);
                continue;
            }

            contents.Add(new JsonObject
            {
                ["role"] = message.Role == ChatRole.Assistant ? "model" : "user",
                ["parts"] = new JsonArray(new JsonObject { ["text"] = message.Text }),
            });
        }

        var request = new JsonObject { ["contents"] = contents };
        if (system.Count > 0)
        {
            request["systemInstruction"] = new JsonObject
            {
                ["parts"] = new JsonArray([.. system.Select(text => (JsonNode)new JsonObject { ["text"] = text })]),
            };
        }

        var generation = new JsonObject();
        if (options?.Temperature is { } temperature)
        {
            generation["temperature"] = temperature;
        }

        if (options?.TopP is { } topP)
        {
            generation["topP"] = topP;
        }

        if (options?.TopK is { } topK)
        {
            generation["topK"] = topK;
        }

        if (options?.MaxOutputTokens is { } maxTokens)
        {
            generation["maxOutputTokens"] = maxTokens;
        }

        if (options?.StopSequences is { Count: > 0 } stops)
        {
            generation["stopSequences"] = new JsonArray([.. stops.Select(s => (JsonNode)JsonValue.Create(s))]);
        }

        if (generation.Count > 0)
        {
            request["generationConfig"] = generation;
        }

        return request;
    }

    private ChatResponseUpdate ToUpdate(JsonObject json, ChatOptions? options)
    {
        var update = new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ModelId = (string?)json["modelVersion"] ?? options?.ModelId ?? _options.ModelId,
            ResponseId = (string?)json["responseId"],
        };

        var candidate = (json["candidates"] as JsonArray)?.FirstOrDefault() as JsonObject;
        foreach (var part in candidate?["content"]?["parts"] as JsonArray ?? [])
        {
            // Thinking models mark their thoughts; they are not reply text.
            if (part?["text"] is JsonValue text && part["thought"]?.GetValue<bool>() != true)
            {
                update.Contents.Add(new TextContent(text.GetValue<string>()));
            }
        }

        if ((string?)candidate?["finishReason"] is { Length: > 0 } finish)
        {
            update.FinishReason = MapFinishReason(finish);
        }
        else if ((string?)json["promptFeedback"]?["blockReason"] is { Length: > 0 })
        {
            // A blocked prompt has no candidates at all.
            update.FinishReason = ChatFinishReason.ContentFilter;
        }

        if (json["usageMetadata"] is JsonObject usage && update.FinishReason is not null)
        {
            update.Contents.Add(new UsageContent(new UsageDetails
            {
                InputTokenCount = (long?)usage["promptTokenCount"],
                OutputTokenCount = (long?)usage["candidatesTokenCount"],
                TotalTokenCount = (long?)usage["totalTokenCount"],
            }));
        }

        return update;
    }

    internal static ChatFinishReason MapFinishReason(string finishReason) => finishReason switch
    {
        "STOP" => ChatFinishReason.Stop,
        "MAX_TOKENS" => ChatFinishReason.Length,
        "SAFETY" or "RECITATION" or "BLOCKLIST" or "PROHIBITED_CONTENT" or "SPII" or "IMAGE_SAFETY" => ChatFinishReason.ContentFilter,
        _ => new ChatFinishReason(finishReason.ToLowerInvariant()),
    };
}
