extern alias grpcservice;

using System.Net;
using Chat.Contracts.Public;
using Chat.Tests.Infrastructure;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;

namespace Chat.Tests.Grpc;

/// <summary>
/// One Chat.Grpc replica in-process on real Kestrel: cleartext HTTP/2 (as deployed) on a free port, plus an HTTP/1.1
/// port for gRPC-Web the way a browser speaks it. Points at a Chat.Llm.Service by service discovery configuration.
/// </summary>
public sealed class GrpcServiceHost : IAsyncDisposable
{
    private readonly Factory _factory;
    private readonly List<GrpcChannel> _channels = [];

    private GrpcServiceHost(Factory factory, int http2Port, int http1Port)
    {
        _factory = factory;
        Http2Address = new Uri($"http://127.0.0.1:{http2Port}");
        Http1Address = new Uri($"http://127.0.0.1:{http1Port}");
    }

    public Uri Http2Address { get; }

    public Uri Http1Address { get; }

    public IServiceProvider Services => _factory.Services;

    public static async Task<GrpcServiceHost> StartAsync(
        string llmAddress, IReadOnlyDictionary<string, string?>? settings = null, string instance = "grpc-0")
    {
        var merged = new Dictionary<string, string?>
        {
            ["services:llm:http:0"] = llmAddress,
            ["OTEL_SERVICE_NAME"] = "grpc",
            ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={instance}",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        var http2Port = RedisServer.FreeTcpPort();
        var http1Port = RedisServer.FreeTcpPort();
        var factory = new Factory(merged, http2Port, http1Port);
        try
        {
            await Task.Run(factory.StartServer).DefaultTimeout();
            return new GrpcServiceHost(factory, http2Port, http1Port);
        }
        catch
        {
            await factory.DisposeAsync();
            throw;
        }
    }

    public GrpcChannel CreateChannel(int? maxSendMessageBytes = null)
    {
        var channel = GrpcChannel.ForAddress(Http2Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
            MaxSendMessageSize = maxSendMessageBytes,
        });
        _channels.Add(channel);
        return channel;
    }

    public ChatService.ChatServiceClient CreateClient() => new(CreateChannel());

    /// <summary>A gRPC-Web client (application/grpc-web) over HTTP/1.1, as a browser (or the gateway's 8000 port) sends it.</summary>
    public ChatService.ChatServiceClient CreateGrpcWebClient(GrpcWebMode mode = GrpcWebMode.GrpcWeb)
    {
        var channel = GrpcChannel.ForAddress(Http1Address, new GrpcChannelOptions
        {
            HttpHandler = new GrpcWebHandler(mode, new SocketsHttpHandler()),
            HttpVersion = HttpVersion.Version11,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });
        _channels.Add(channel);
        return new ChatService.ChatServiceClient(channel);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        await _factory.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    private sealed class Factory : WebApplicationFactory<grpcservice::Program>
    {
        private readonly IReadOnlyDictionary<string, string?> _settings;

        public Factory(IReadOnlyDictionary<string, string?> settings, int http2Port, int http1Port)
        {
            _settings = settings;
            UseKestrel(kestrel =>
            {
                kestrel.Listen(IPAddress.Loopback, http2Port, listen => listen.Protocols = HttpProtocols.Http2);
                kestrel.Listen(IPAddress.Loopback, http1Port, listen => listen.Protocols = HttpProtocols.Http1);
            });
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in _settings)
            {
                builder.UseSetting(key, value);
            }

            builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(_settings));
        }
    }
}
