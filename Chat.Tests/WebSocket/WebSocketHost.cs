extern alias websocket;

using System.Net;
using System.Net.Sockets;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.WebSocket;

/// <summary>
/// One Chat.WebSocket replica in-process on real Kestrel (HTTP/1.1 on a free loopback port), pointed at a
/// Chat.Llm.Service by service discovery configuration, as the AppHost does. Stops in DisposeAsync.
/// </summary>
public sealed class WebSocketHost : IAsyncDisposable
{
    private readonly Factory _factory;

    private WebSocketHost(Factory factory, Uri address)
    {
        _factory = factory;
        HttpAddress = address;
    }

    public Uri HttpAddress { get; }

    public Uri WebSocketAddress => new($"ws://{HttpAddress.Authority}/ws");

    public IServiceProvider Services => _factory.Services;

    public static async Task<WebSocketHost> StartAsync(
        string llmAddress,
        IReadOnlyDictionary<string, string?>? settings = null,
        int? socketSendBufferBytes = null,
        string instance = "websocket-0")
    {
        var merged = new Dictionary<string, string?>
        {
            ["services:llm:http:0"] = llmAddress,
            ["OTEL_SERVICE_NAME"] = "websocket",
            ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={instance}",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        var factory = new Factory(merged, socketSendBufferBytes);
        try
        {
            await Task.Run(factory.StartServer).DefaultTimeout();
            var address = factory.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>()
                .Addresses.First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);
            return new WebSocketHost(factory, new Uri(address));
        }
        catch
        {
            await factory.DisposeAsync();
            throw;
        }
    }

    public async Task<ChatSocket> ConnectAsync(int? receiveBufferBytes = null) =>
        await ChatSocket.ConnectAsync(WebSocketAddress, receiveBufferBytes);

    public async ValueTask DisposeAsync() =>
        await _factory.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    private sealed class Factory : WebApplicationFactory<websocket::Program>
    {
        private readonly IReadOnlyDictionary<string, string?> _settings;

        public Factory(IReadOnlyDictionary<string, string?> settings, int? socketSendBufferBytes)
        {
            _settings = settings;
            UseKestrel(kestrel =>
            {
                kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
                if (socketSendBufferBytes is { } bytes)
                {
                    // A slow reader fills the socket, then Kestrel's pipe, then our queue: keep the first two small.
                    kestrel.Limits.MaxResponseBufferSize = bytes;
                }
            });
            if (socketSendBufferBytes is { } size)
            {
                // Accepted sockets inherit the listener's buffer sizes on Linux.
                ConfigureSocketBuffers = options => options.CreateBoundListenSocket = endpoint =>
                {
                    var socket = Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
                    socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.SendBuffer, size);
                    return socket;
                };
            }
        }

        private Action<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>? ConfigureSocketBuffers { get; }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in _settings)
            {
                builder.UseSetting(key, value);
            }

            builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(_settings));
            if (ConfigureSocketBuffers is { } configure)
            {
                builder.ConfigureServices(services => services.Configure(configure));
            }
        }
    }
}
