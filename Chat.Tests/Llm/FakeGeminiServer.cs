using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Tests.Llm;

/// <summary>
/// A local Kestrel app that speaks Gemini's v1beta REST wire format: it records every request (path, query, headers,
/// JSON body) and answers each with the next scripted reply: an SSE stream of GenerateContentResponse events (CRLF
/// or LF line ends, optional pauses), an error status with Gemini's error body, or a stream that hangs until the
/// client goes away (so a test can see the cancellation arrive).
/// </summary>
public sealed class FakeGeminiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Func<HttpContext, Task>> _replies = new();

    private FakeGeminiServer(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Completes when a hanging stream saw its client disconnect.</summary>
    public TaskCompletionSource ClientAborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<FakeGeminiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Explicit HTTP/1.1: the test output holds the services' appsettings.json, whose Kestrel defaults say HTTP/2 only.
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        FakeGeminiServer? server = null;
        app.MapPost("/v1beta/models/{**rest}", async context =>
        {
            var body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted);
            server!.Requests.Enqueue(new RecordedRequest(
                context.Request.Path.Value!,
                context.Request.QueryString.Value ?? "",
                context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
                JsonNode.Parse(body)!.AsObject()));
            var reply = server._replies.TryDequeue(out var next) ? next : Stream(TextEvent("ok", "STOP"));
            await reply(context);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FakeGeminiServer(app, address.TrimEnd('/'));
        return server;
    }

    public void Enqueue(Func<HttpContext, Task> reply) => _replies.Enqueue(reply);

    /// <summary>An SSE stream of the given events (whole GenerateContentResponse JSON each), as Gemini frames them.</summary>
    public static Func<HttpContext, Task> Stream(IEnumerable<string> events, string lineEnd = "\r\n", int pauseMs = 0) => async context =>
    {
        context.Response.ContentType = "text/event-stream";
        foreach (var json in events)
        {
            await context.Response.WriteAsync($"data: {json}{lineEnd}{lineEnd}", Encoding.UTF8);
            await context.Response.Body.FlushAsync();
            if (pauseMs > 0)
            {
                await Task.Delay(pauseMs);
            }
        }
    };

    public static Func<HttpContext, Task> Stream(params string[] events) => Stream(events, "\r\n");

    /// <summary>A Gemini error: HTTP status plus {"error":{code,message,status,details}}.</summary>
    public static Func<HttpContext, Task> Error(int status, string grpcStatus, string? retryDelay = null) => async context =>
    {
        var details = retryDelay is null
            ? "[]"
            : $$"""[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"{{retryDelay}}"}]""";
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync($$$"""{"error":{"code":{{{status}}},"message":"fake {{{grpcStatus}}}","status":"{{{grpcStatus}}}","details":{{{details}}}}}""");
    };

    /// <summary>Sends one text event, then holds the stream open until the client goes away (signalled on
    /// <paramref name="aborted"/>, else on <see cref="ClientAborted"/>).</summary>
    public Func<HttpContext, Task> Hang(string firstText, TaskCompletionSource? aborted = null) => async context =>
    {
        context.Response.ContentType = "text/event-stream";
        await context.Response.WriteAsync($"data: {TextEvent(firstText)}\r\n\r\n");
        await context.Response.Body.FlushAsync();
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            (aborted ?? ClientAborted).TrySetResult();
        }
    };

    /// <summary>A GenerateContentResponse with one text part (and, on the last, finishReason and usage).</summary>
    public static string TextEvent(string text, string? finishReason = null)
    {
        var candidate = new JsonObject
        {
            ["content"] = new JsonObject { ["role"] = "model", ["parts"] = new JsonArray(new JsonObject { ["text"] = text }) },
            ["index"] = 0,
        };
        var response = new JsonObject { ["candidates"] = new JsonArray(candidate), ["modelVersion"] = "gemini-2.0-flash" };
        if (finishReason is not null)
        {
            candidate["finishReason"] = finishReason;
            response["usageMetadata"] = new JsonObject { ["promptTokenCount"] = 11, ["candidatesTokenCount"] = 7, ["totalTokenCount"] = 18 };
        }

        return response.ToJsonString();
    }

    public static string FinishEvent(string finishReason) =>
        $$"""{"candidates":[{"finishReason":"{{finishReason}}","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH","blocked":true}]}],"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5},"modelVersion":"gemini-2.0-flash"}""";

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stopping.Token);
        await _app.DisposeAsync();
    }

    public sealed record RecordedRequest(string Path, string Query, IReadOnlyDictionary<string, string> Headers, JsonObject Body);
}
