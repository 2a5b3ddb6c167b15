using System.ComponentModel.DataAnnotations;
using Chat.Gateway;
using Chat.Gateway.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace Chat.Tests.Gateway;

/// <summary>Which requests the stream cap counts, and which Gateway:Limits settings are refused at start.</summary>
public sealed class StreamRequestsTests
{
    public static TheoryData<string, string, string?, string?> Requests => new()
    {
        // method, gateway path, content type, protocol counted (null: not a stream)
        { "POST", "/streaming/chat/stream", "application/json", StreamRequests.Ndjson },
        { "POST", "/sse/chat/stream", "application/json", StreamRequests.Sse },
        { "POST", "/SSE/Chat/Stream/", "application/json", StreamRequests.Sse },
        { "GET", "/sse/chat/turns/6f1c/events", null, StreamRequests.Sse },
        { "GET", "/sse/chat/turns/6f1c/events", "application/grpc", StreamRequests.Sse },
        { "POST", "/chat.ChatService/Chat", "application/grpc", StreamRequests.Grpc },
        { "POST", "/chat.ChatService/SendMessage", "application/grpc", StreamRequests.Grpc },
        { "POST", "/chat.ChatService/WatchSession", "application/grpc", StreamRequests.Grpc },
        { "POST", "/grpc/chat.ChatService/SendMessage", "application/grpc-web+proto", StreamRequests.GrpcWeb },
        { "POST", "/chat.ChatService/WatchSession", "application/grpc-web-text", StreamRequests.GrpcWeb },
        { "POST", "/rest/chat", "application/json", null },
        { "POST", "/sse/chat/turns", "application/json", null },
        { "DELETE", "/sse/chat/turns/6f1c", null, null },
        { "GET", "/sse/chat/turns/6f1c/extra/events", null, null },
        { "GET", "/streaming/sessions", null, null },
        { "POST", "/chat.ChatService/CreateSession", "application/grpc", null },
        { "POST", "/grpc.health.v1.Health/Watch", "application/grpc", null },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void ProtocolOf_CountsOnlyLongLivedRequests(string method, string path, string? contentType, string? expected)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        context.Request.ContentType = contentType;

        Assert.Equal(expected, StreamRequests.ProtocolOf(context.Request));
    }

    [Fact]
    public void ProtocolOf_AnyWebSocketUpgrade_IsAStream()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = "/websocket/ws";
        context.Request.Headers.Upgrade = "websocket";

        Assert.Equal(StreamRequests.WebSocket, StreamRequests.ProtocolOf(context.Request));
    }

    [Fact]
    public void Limits_DefaultIsOnAt100()
    {
        var options = new GatewayOptions();

        Assert.Equal(100, options.Limits.MaxConcurrentStreamsPerClient);
        Assert.True(options.Limits.Enabled);
        Assert.Empty(Errors(options));
    }

    [Fact]
    public void Limits_NegativeCaps_UnknownKeyOverrides_AndOddRetryAfter_AreRefused()
    {
        var options = new GatewayOptions();
        options.ApiKeys["alice"] = new ApiKeyOptions { Key = "k" };
        options.Limits.MaxConcurrentStreamsPerClient = -1;
        options.Limits.MaxConcurrentStreamsByPrincipal["alice"] = -2;
        options.Limits.MaxConcurrentStreamsByPrincipal["alcie"] = 5;
        options.Limits.StreamRetryAfter = TimeSpan.Zero;

        var errors = Errors(options);

        Assert.Contains(errors, e => e.Contains("MaxConcurrentStreamsPerClient", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MaxConcurrentStreamsByPrincipal:alice must be 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MaxConcurrentStreamsByPrincipal:alcie names no configured API key", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("StreamRetryAfter", StringComparison.Ordinal));
    }

    private static List<string> Errors(GatewayOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results.Select(r => r.ErrorMessage ?? "").ToList();
    }
}
