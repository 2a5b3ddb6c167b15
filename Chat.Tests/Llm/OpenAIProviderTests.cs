using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Tests.Llm;

/// <summary>The openai provider against a local OpenAI-compatible endpoint speaking chat/completions with SSE chunks.</summary>
[Collection(RedisCollection.Name)]
public sealed class OpenAIProviderTests(RedisFixture redis)
{
    [Fact]
    public async Task Turn_WithTheOpenAIProvider_StreamsTheEndpointsChunks()
    {
        var requests = new ConcurrentQueue<(string Path, string Authorization, JsonObject Body)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Explicit HTTP/1.1: the test output holds the services' appsettings.json, whose Kestrel defaults say HTTP/2 only.
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1));
        await using var endpoint = builder.Build();
        endpoint.MapPost("/v1/chat/completions", async context =>
        {
            var body = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
            requests.Enqueue((context.Request.Path.Value!, context.Request.Headers.Authorization.ToString(), body));
            context.Response.ContentType = "text/event-stream";
            foreach (var chunk in new[]
            {
                """{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-test","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}""",
                """{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-test","choices":[{"index":0,"delta":{"content":" there"},"finish_reason":null}]}""",
                """{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-test","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""",
                """{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-test","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}""",
                "[DONE]",
            })
            {
                await context.Response.WriteAsync($"data: {chunk}\n\n");
                await context.Response.Body.FlushAsync();
            }
        });
        await endpoint.StartAsync().DefaultTimeout();
        var baseUrl = endpoint.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        await using var host = await LlmServiceHost.StartAsync(redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Llm:Provider"] = "openai",
            ["Llm:OpenAI:BaseUrl"] = baseUrl + "/v1",
            ["Llm:OpenAI:ApiKey"] = "sk-test",
            ["Llm:OpenAI:ModelId"] = "gpt-test",
        }).DefaultTimeout();
        var client = host.CreateClient();
        var session = await client.CreateSessionAsync(new CreateSessionRequest { SystemInstruction = "Be nice." }).ResponseAsync.DefaultTimeout();

        var events = await client.RunTurnAsync(session.Id, "Hello").DefaultTimeout();

        Assert.Null(events[^1].Error);
        Assert.Equal(["Hi", " there"], events.Where(e => e.Delta is not null).Select(e => e.Delta.Text));
        var completed = events.Completed();
        Assert.Equal("stop", completed.FinishReason);
        Assert.Equal((9, 2, 11), (completed.Usage.InputTokens, completed.Usage.OutputTokens, completed.Usage.TotalTokens));
        Assert.Equal(("openai", "gpt-test"), (events[0].Accepted.Provider, events[0].Accepted.Model));

        var request = Assert.Single(requests);
        Assert.Equal("Bearer sk-test", request.Authorization);
        Assert.Equal("gpt-test", (string)request.Body["model"]!);
        Assert.True((bool)request.Body["stream"]!);
        Assert.Equal(["system", "user"], request.Body["messages"]!.AsArray().Select(m => (string)m!["role"]!));
    }
}
