extern alias websocket;

using System.Net.WebSockets;
using System.Text;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using websocket::Chat.WebSocket.Sockets;

namespace Chat.Tests.WebSocket;

/// <summary>What keeps one connection from hurting the server: sizes, frame kinds, slow readers, shutdown, keep-alive.</summary>
[Collection(BidiCollection.Name)]
public sealed class WebSocketHygieneTests(BidiFixture fixture)
{
    [Fact]
    public async Task OversizedMessage_ClosesWith1009()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address, new Dictionary<string, string?>
        {
            ["WebSocket:MaxMessageBytes"] = "1024",
        });
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        await client.SendAsync(new { type = "chat", message = new string('x', 2000) });

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.ReceiveCloseAsync());
    }

    [Fact]
    public async Task MessageJustUnderTheLimit_IsAccepted()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address, new Dictionary<string, string?>
        {
            ["WebSocket:MaxMessageBytes"] = "1024",
        });
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        await client.SendTextAsync("{\"type\":\"ping\",\"pad\":\"" + new string('x', 990) + "\"}");

        Assert.Equal("pong", (await client.ReceiveMessageAsync()).Type());
    }

    [Fact]
    public async Task BinaryFrame_ClosesWith1003()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        await client.Socket.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"ping\"}"), WebSocketMessageType.Binary, true, CancellationToken.None)
            .DefaultTimeout();

        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, await client.ReceiveCloseAsync());
    }

    [Fact]
    public async Task SlowReader_IsDisconnectedWith1008_AndCounted()
    {
        await using var host = await WebSocketHost.StartAsync(
            fixture.FastLlm.Address,
            new Dictionary<string, string?> { ["WebSocket:OutgoingQueueCapacity"] = "16" },
            socketSendBufferBytes: 4096);
        var telemetry = host.Services.GetRequiredService<WebSocketTelemetry>();
        await using var client = await host.ConnectAsync(receiveBufferBytes: 4096);
        await client.ReceiveMessageAsync();

        // Pings without reading a single pong: the socket, Kestrel's pipe and then the queue fill up.
        var ping = Encoding.UTF8.GetBytes("{\"type\":\"ping\"}");
        for (var i = 0; i < 3000 && telemetry.SlowReaderDisconnects == 0; i++)
        {
            await client.Socket.SendAsync(ping, WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
        }

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.ReceiveCloseAsync());
        Assert.Equal(1, telemetry.SlowReaderDisconnects);
    }

    [Fact]
    public async Task HostShutdown_ClosesConnectionsWith1001()
    {
        var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address);
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        var stopping = host.DisposeAsync().AsTask();
        var status = await client.ReceiveCloseAsync();
        await client.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None).DefaultTimeout();
        await stopping.DefaultTimeout();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status);
    }

    [Fact]
    public async Task KeepAlive_DropsAConnectionThatStopsAnsweringPings()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address, new Dictionary<string, string?>
        {
            ["WebSocket:KeepAliveIntervalSeconds"] = "1",
            ["WebSocket:KeepAliveTimeoutSeconds"] = "1",
        });
        var registry = host.Services.GetRequiredService<ConnectionRegistry>();
        await using var client = await host.ConnectAsync();
        // The server registers the socket just after the upgrade completes, which can be after the client returns.
        var registered = DateTime.UtcNow.AddSeconds(5);
        while (registry.Count == 0 && DateTime.UtcNow < registered)
        {
            await Task.Delay(20);
        }

        Assert.Equal(1, registry.Count);

        // A client that never reads never answers the server's pings (pongs are sent while receiving).
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (registry.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(0, registry.Count);
    }

    [Fact]
    public async Task KeepAlive_AnsweringClientStaysConnected()
    {
        await using var host = await WebSocketHost.StartAsync(fixture.FastLlm.Address, new Dictionary<string, string?>
        {
            ["WebSocket:KeepAliveIntervalSeconds"] = "1",
            ["WebSocket:KeepAliveTimeoutSeconds"] = "1",
        });
        await using var client = await host.ConnectAsync();
        await client.ReceiveMessageAsync();

        // Reading (as any client does) answers the pings; 3 s of silence from the server side is fine.
        var pending = client.ReceiveMessageAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(pending.IsCompleted);
        await client.SendAsync(new { type = "ping" });
        Assert.Equal("pong", (await pending.DefaultTimeout()).Type());
    }
}
