using Chat.Gateway.Proxy;
using Microsoft.AspNetCore.Http;

namespace Chat.Tests.Gateway;

public sealed class GatewaySpanNamesTests
{
    [Theory]
    [InlineData("POST", "/rest/chat", "POST /rest/chat")]
    [InlineData("POST", "/sse/chat/stream", "POST /sse/chat/stream")]
    [InlineData("GET", "/websocket/ws", "GET /websocket/ws")]
    [InlineData("POST", "/chat.ChatService/SendMessage", "POST /chat.ChatService/SendMessage")]
    [InlineData("POST", "/grpc/chat.ChatService/Chat", "POST /grpc/chat.ChatService/Chat")]
    [InlineData("GET", "/rest/openapi/v1.json", "GET /rest/openapi/v1.json")]
    [InlineData("GET", "/rest/sessions/6f1c2b9e-8d2a-4c3b-9e7f-0a1b2c3d4e5f", "GET /rest/sessions/{id}")]
    [InlineData("POST", "/rest/sessions/6f1c2b9e8d2a4c3b9e7f0a1b2c3d4e5f/clear", "POST /rest/sessions/{id}/clear")]
    [InlineData("GET", "/sse/chat/stream/42", "GET /sse/chat/stream/{id}")]
    [InlineData("GET", "/rest/sessions/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "GET /rest/sessions/{id}")]
    [InlineData("GET", "/a/b/c/d/e/f/g/h", "GET /a/b/c/d/e/f/…")]
    [InlineData("GET", "/", "GET /")]
    public void Name_IsTheMethodAndThePublicPath_WithIdentifiersReplaced(string method, string path, string expected) =>
        Assert.Equal(expected, GatewaySpanNames.Name(method, new PathString(path)));
}
