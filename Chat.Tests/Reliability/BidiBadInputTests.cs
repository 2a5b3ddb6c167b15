using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Chat.Contracts.Llm.V1;
using Chat.Contracts.Public;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Chat.Tests.WebSocket;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace Chat.Tests.Reliability;

/// <summary>
/// Bad input over WebSocket and native gRPC through the real gateway (key alice), answered in each protocol's idiom
/// (error message or close code; status code); none of it changes anything stored (<c>GetStats</c>'
/// <c>sessions_created</c> and <c>total_turns</c> do not move), as <see cref="BadInputTests"/> checks for HTTP.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public sealed class BidiBadInputTests(ReliabilityFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    private const string UnknownSession = "00000000-0000-0000-0000-00000000000a";

    private readonly DistributedApplication _app = fixture.App;

    /// <summary>What the client sends after <c>connected</c>: a text message (JSON or not) or a binary frame.</summary>
    public sealed record WebSocketCase(string Name, string? Text, byte[]? Binary, string ExpectedAnswer)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<WebSocketCase> WebSocketCases => new()
    {
        new("empty message", """{"type":"chat","message":""}""", null, "error INVALID_ARGUMENT Message is required"),
        new("whitespace message", """{"type":"chat","message":"  \n\t "}""", null, "error INVALID_ARGUMENT Message is required"),
        new("message over the LLM service's limit", $$"""{"type":"chat","message":"{{new string('m', 40_000)}}"}""", null, "error INVALID_ARGUMENT"),
        new("malformed JSON", """{"type":"chat","mess""", null, "error INVALID_ARGUMENT Invalid JSON format"),
        new("JSON array", "[1,2]", null, "error INVALID_ARGUMENT Invalid JSON format"),
        new("unknown message type", """{"type":"dance"}""", null, "error INVALID_ARGUMENT Unknown message type: dance"),
        new("no message type", """{"message":"hi"}""", null, "error INVALID_ARGUMENT Unknown message type: None"),
        new("join_session without id", """{"type":"join_session"}""", null, "error INVALID_ARGUMENT session_id is required"),
        new("join_session malformed id", """{"type":"join_session","session_id":"not-a-guid"}""", null, "error INVALID_ARGUMENT Session not found"),
        new("join_session unknown id", $$"""{"type":"join_session","session_id":"{{UnknownSession}}"}""", null, "error NOT_FOUND Session not found"),
        new("resume without reply id", """{"type":"resume"}""", null, "error INVALID_ARGUMENT reply_id is required"),
        new("binary frame", null, """{"type":"ping"}"""u8.ToArray(), "close InvalidMessageType"),
        new("oversized frame (over 64 KB)", $$"""{"type":"chat","message":"{{new string('o', 70_000)}}"}""", null, "close MessageTooBig"),
    };

    [Theory]
    [MemberData(nameof(WebSocketCases))]
    public async Task BadWebSocketInput_GetsItsErrorOrCloseCode_AndNothingStoredChanges(WebSocketCase badInput)
    {
        var before = await StatsAsync();
        var http = _app.GetEndpoint("gateway", "http");
        await using var client = await ChatSocket.ConnectAsync(new Uri($"ws://{http.Authority}/websocket/ws?api_key={ReliabilityFixture.AliceKey}"));
        Assert.Equal("connected", (await client.ReceiveMessageAsync()).Type());

        if (badInput.Binary is { } binary)
        {
            await client.Socket.SendAsync(binary, WebSocketMessageType.Binary, true, CancellationToken.None).DefaultTimeout();
        }
        else
        {
            await client.SendTextAsync(badInput.Text!);
        }

        var answer = await client.ReceiveAsync();
        var observed = answer is { } message
            ? $"error {message.Str("code")} {message.Str("message")}"
            : $"close {client.CloseStatus}";
        Assert.StartsWith(badInput.ExpectedAnswer, observed, StringComparison.Ordinal);
        if (answer is not null)
        {
            Assert.Equal("error", answer.Value.Type());
            // The connection survives a refused message.
            await client.SendAsync(new { type = "ping" });
            Assert.Equal("pong", (await client.ReceiveMessageAsync()).Type());
        }

        await AssertNothingStoredChangedAsync(before);
    }

    /// <summary>A call against the gateway's h2c port and what it must end with.</summary>
    public sealed record GrpcCase(string Name, Func<CallInvoker, Metadata, Task<string>> Call, string ExpectedAnswer)
    {
        public override string ToString() => Name;
    }

    // Undeserializable requests: Grpc.AspNetCore fails the call before any handler runs, as UNKNOWN with its generic
    // detail (no parser message reaches the client).
    private static readonly Marshaller<byte[]> RawBytes = Marshallers.Create(bytes => bytes, bytes => bytes);

    public static TheoryData<GrpcCase> GrpcCases => new()
    {
        new("SendMessage, empty message", (invoker, key) => SendMessageAsync(invoker, key, UnknownSession, ""), "OK ERROR INVALID_ARGUMENT Message is required"),
        new("SendMessage, whitespace message", (invoker, key) => SendMessageAsync(invoker, key, UnknownSession, " \n "), "OK ERROR INVALID_ARGUMENT Message is required"),
        new("SendMessage, no session id", (invoker, key) => SendMessageAsync(invoker, key, "", "hello"), "INVALID_ARGUMENT session_id is required"),
        new("SendMessage, unknown session id", (invoker, key) => SendMessageAsync(invoker, key, UnknownSession, "hello"), "OK ERROR NOT_FOUND Session not found"),
        new("SendMessage, message over the 64 KB receive limit", (invoker, key) => SendMessageAsync(invoker, key, UnknownSession, new string('g', 70_000)), "RESOURCE_EXHAUSTED"),
        new("GetSessionInfo, empty id", (invoker, key) => SessionInfoAsync(invoker, key, ""), "INVALID_ARGUMENT session_id is required"),
        new("GetSessionInfo, 200-character id", (invoker, key) => SessionInfoAsync(invoker, key, new string('s', 200)), "INVALID_ARGUMENT session_id is longer than 128 characters"),
        new("GetSessionInfo, malformed id", (invoker, key) => SessionInfoAsync(invoker, key, "not-a-guid"), "INVALID_ARGUMENT session_id is not a valid"),
        new("GetSessionInfo, unknown id", (invoker, key) => SessionInfoAsync(invoker, key, UnknownSession), "OK success=False Session not found"),
        new("DeleteSession, unknown id", (invoker, key) => DeleteAsync(invoker, key, UnknownSession), "OK success=False Session not found"),
        new("GetSessionInfo, invalid protobuf bytes", (invoker, key) => RawUnaryAsync(invoker, key, "GetSessionInfo", [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]), "UNKNOWN Exception was thrown by handler."),
        new("CreateSession, invalid protobuf bytes", (invoker, key) => RawUnaryAsync(invoker, key, "CreateSession", [0x0A, 0x64, 0x41]), "UNKNOWN Exception was thrown by handler."),
    };

    [Theory]
    [MemberData(nameof(GrpcCases))]
    public async Task BadGrpcInput_GetsItsStatus_AndNothingStoredChanges(GrpcCase badInput)
    {
        var before = await StatsAsync();
        using var channel = GrpcChannel.ForAddress(_app.GetEndpoint("gateway", "http2"));
        var key = new Metadata { { "x-api-key", ReliabilityFixture.AliceKey } };

        var observed = await badInput.Call(channel.CreateCallInvoker(), key).DefaultTimeout();

        Assert.StartsWith(badInput.ExpectedAnswer, observed, StringComparison.Ordinal);
        await AssertNothingStoredChangedAsync(before);
    }

    /// <summary>The call's end as "STATUS detail", or "OK ERROR CODE message" for the first error response of a stream.</summary>
    private static async Task<string> SendMessageAsync(CallInvoker invoker, Metadata key, string sessionId, string message)
    {
        var client = new ChatService.ChatServiceClient(invoker);
        try
        {
            using var call = client.SendMessage(
                new ChatRequest { Type = ChatRequest.Types.MessageType.Message, SessionId = sessionId, Message = message }, key);
            await foreach (var response in call.ResponseStream.ReadAllAsync())
            {
                if (response.Type == ChatResponse.Types.ResponseType.Error)
                {
                    return $"OK ERROR {response.ErrorCode} {response.ErrorMessage}";
                }
            }

            return "OK";
        }
        catch (RpcException exception)
        {
            return Describe(exception);
        }
    }

    private static async Task<string> SessionInfoAsync(CallInvoker invoker, Metadata key, string sessionId)
    {
        try
        {
            var info = await new ChatService.ChatServiceClient(invoker).GetSessionInfoAsync(new SessionInfoRequest { SessionId = sessionId }, key);
            return $"OK success={info.Success} {info.Message}";
        }
        catch (RpcException exception)
        {
            return Describe(exception);
        }
    }

    private static async Task<string> DeleteAsync(CallInvoker invoker, Metadata key, string sessionId)
    {
        try
        {
            var deleted = await new ChatService.ChatServiceClient(invoker).DeleteSessionAsync(new Chat.Contracts.Public.DeleteSessionRequest { SessionId = sessionId }, key);
            return $"OK success={deleted.Success} {deleted.Message}";
        }
        catch (RpcException exception)
        {
            return Describe(exception);
        }
    }

    /// <summary>Bytes that are not a valid message of the method's request type, sent as if they were.</summary>
    private static async Task<string> RawUnaryAsync(CallInvoker invoker, Metadata key, string method, byte[] payload)
    {
        var raw = new Method<byte[], byte[]>(MethodType.Unary, "chat.ChatService", method, RawBytes, RawBytes);
        try
        {
            await invoker.AsyncUnaryCall(raw, null, new CallOptions(key), payload);
            return "OK";
        }
        catch (RpcException exception)
        {
            return Describe(exception);
        }
    }

    private static string Describe(RpcException exception) =>
        $"{JsonNamingPolicy.SnakeCaseUpper.ConvertName(exception.StatusCode.ToString())} {exception.Status.Detail}";

    private async Task<ServerStats> StatsAsync()
    {
        var (llm, channel) = await fixture.LlmAsync();
        using (channel)
        {
            return await llm.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
        }
    }

    private async Task AssertNothingStoredChangedAsync(ServerStats before)
    {
        var after = await StatsAsync();
        Assert.Equal(before.SessionsCreated, after.SessionsCreated);
        Assert.Equal(before.TotalTurns, after.TotalTurns);
    }
}
