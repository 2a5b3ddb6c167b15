using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Chat.Cli.Transports;

/// <summary>
/// The routes the four HTTP services share (sessions, health, stats) and their error handling; the subclasses add
/// the chat route of their protocol.
/// </summary>
public abstract class HttpChatTransport : IChatTransport
{
    protected HttpChatTransport(string name, Uri baseUrl, TimeSpan requestTimeout, bool strictSession = false)
    {
        Name = name;
        StrictSession = strictSession;
        BaseUrl = baseUrl.ToString().TrimEnd('/');
        // Streams can outlast any single timeout: replies are bounded by the caller's token, plain calls by RequestTimeout.
        Http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        RequestTimeout = requestTimeout;
    }

    public string Name { get; }

    /// <summary>Chat requests carry <see cref="StrictSessionFlag"/>: an unknown session is an error, not replaced.</summary>
    public bool StrictSession { get; }

    public string Endpoint => BaseUrl;

    public virtual bool SupportsResume => false;

    public ResumePoint? PendingResume { get; protected set; }

    public virtual Uri? DocsUri => new($"{BaseUrl}/docs");

    public virtual Uri? DemoUri => new($"{BaseUrl}/demo");

    /// <summary>The service's base address without a trailing slash (routes are appended to it).</summary>
    protected string BaseUrl { get; }

    protected HttpClient Http { get; }

    protected TimeSpan RequestTimeout { get; }

    protected Uri Route(string path) => new($"{BaseUrl}{path}");

    /// <summary>A chat request (<c>POST /chat</c>, <c>/chat/stream</c>): with the strict-session header when asked for.</summary>
    protected HttpRequestMessage ChatRequest(string path, string message, string? sessionId)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Route(path))
        {
            Content = JsonContent.Create(new ChatRequestBody(message, sessionId), options: ChatRequestBody.Options),
        };
        if (StrictSession)
        {
            request.Headers.Add(StrictSessionFlag.HeaderName, StrictSessionFlag.Value);
        }

        return request;
    }

    public async Task<CreatedSession> CreateSessionAsync(string? modelId, CancellationToken cancellationToken)
    {
        var body = await SendJsonAsync(HttpMethod.Post, "/sessions/new", modelId is null ? new { } : new { model_id = modelId }, cancellationToken);
        return new CreatedSession(body.String("session_id") ?? throw Malformed("/sessions/new"), body.String("model"));
    }

    public async Task<SessionDetails> GetSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        var body = await SendJsonAsync(HttpMethod.Get, $"/sessions/{Uri.EscapeDataString(sessionId)}", null, cancellationToken);
        return new SessionDetails(
            body.String("session_id") ?? sessionId,
            body.String("model"),
            body.Int("message_count") ?? 0,
            body.Int("user_messages"),
            body.Int("model_messages"),
            body.Double("session_duration_seconds") ?? body.Double("duration_seconds"),
            body.String("created_at"));
    }

    public async Task<SessionList> ListSessionsAsync(CancellationToken cancellationToken)
    {
        var body = await SendJsonAsync(HttpMethod.Get, "/sessions", null, cancellationToken);
        var sessions = body.TryGetProperty("sessions", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(s => new SessionSummary(
                s.String("session_id") ?? "", s.String("model"), s.Int("message_count") ?? 0, s.Double("duration_minutes"), s.String("created_at"))).ToList()
            : [];
        return new SessionList(body.Int("active_sessions") ?? sessions.Count, sessions);
    }

    public async Task<string> DeleteSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        var body = await SendJsonAsync(HttpMethod.Delete, $"/sessions/{Uri.EscapeDataString(sessionId)}", null, cancellationToken);
        return body.String("message") ?? $"Session {sessionId} deleted";
    }

    public async Task<string> ClearSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        var body = await SendJsonAsync(HttpMethod.Post, $"/sessions/{Uri.EscapeDataString(sessionId)}/clear", null, cancellationToken);
        return body.String("message") ?? $"Session {sessionId} history cleared";
    }

    public async Task<ServerReport> GetHealthAsync(CancellationToken cancellationToken) =>
        (await SendJsonAsync(HttpMethod.Get, "/health", null, cancellationToken)).ToReport();

    public async Task<ServerReport> GetStatsAsync(CancellationToken cancellationToken) =>
        (await SendJsonAsync(HttpMethod.Get, "/stats", null, cancellationToken)).ToReport();

    public abstract IAsyncEnumerable<ChatEvent> SendAsync(string? sessionId, string message, CancellationToken cancellationToken);

    public virtual IAsyncEnumerable<ChatEvent> ResumeAsync(ResumePoint resumePoint, CancellationToken cancellationToken) =>
        throw new ChatTransportException(ChatErrorKind.NotSupported, $"{Name} replies cannot be resumed.");

    public virtual ValueTask DisposeAsync()
    {
        Http.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>A plain request/response call bounded by the request timeout, returning the JSON body.</summary>
    protected async Task<JsonElement> SendJsonAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        using var request = new HttpRequestMessage(method, Route(path));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await SendRequestAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token, cancellationToken);
        return await ReadJsonAsync(response, timeout.Token);
    }

    /// <summary>Sends a request and turns transport failures and error statuses into readable exceptions.</summary>
    protected async Task<HttpResponseMessage> SendRequestAsync(
        HttpRequestMessage request, HttpCompletionOption completion, CancellationToken token, CancellationToken callerToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await Http.SendAsync(request, completion, token);
        }
        catch (OperationCanceledException) when (!callerToken.IsCancellationRequested)
        {
            throw new ChatTransportException(ChatErrorKind.Timeout, $"{request.RequestUri} did not answer within {RequestTimeout.TotalSeconds:0} s.");
        }
        catch (HttpRequestException e)
        {
            throw ChatTransportException.Unreachable(Endpoint, e.InnerException as SocketException ?? (Exception)e);
        }

        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await ToExceptionAsync(response, token);
            }
        }

        return response;
    }

    protected static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            return string.IsNullOrWhiteSpace(text) ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new ChatTransportException(ChatErrorKind.Other, $"{response.RequestMessage?.RequestUri} answered with something other than JSON.");
        }
    }

    /// <summary>ProblemDetails <c>detail</c>/<c>title</c>, or FastAPI's <c>{"detail": …}</c>, or the status line.</summary>
    private static async Task<ChatTransportException> ToExceptionAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string? message = null;
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!string.IsNullOrWhiteSpace(text) && text.TrimStart().StartsWith('{'))
            {
                var problem = JsonDocument.Parse(text).RootElement;
                message = problem.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.Object
                    ? detail.String("error") ?? detail.GetRawText()
                    : problem.String("detail") ?? problem.String("title") ?? problem.String("message");
            }
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException)
        {
            // The status alone still says what happened.
        }

        var status = (int)response.StatusCode;
        var reason = response.ReasonPhrase ?? ((HttpStatusCode)status).ToString();
        var retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? $" (retry after {delta.TotalSeconds:0} s)" : "";
        return ChatTransportException.FromHttpStatus(status, $"{message ?? reason} [HTTP {status}]{retryAfter}");
    }

    protected static ChatTransportException Malformed(string route) =>
        new(ChatErrorKind.Other, $"Unexpected answer from {route}.");

    /// <summary>Reads a streamed body line by line, mapping a dropped connection to a transport error.</summary>
    protected static async IAsyncEnumerable<string> ReadLinesAsync(Stream body, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(body);
        while (true)
        {
            var line = await reader.ReadLineAsync(cancellationToken);
            if (line is null)
            {
                yield break;
            }

            yield return line;
        }
    }

    protected static ChatEvent? ParseEvent(string json, string? type = null)
    {
        try
        {
            return JsonDocument.Parse(json).RootElement.ToChatEvent(type);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
