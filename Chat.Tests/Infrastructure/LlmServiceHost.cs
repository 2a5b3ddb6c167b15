extern alias llm;

using System.Net;
using Chat.Contracts.Llm.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// Chat.Llm.Service running in-process on real Kestrel (cleartext HTTP/2 on a free loopback port), against the
/// Redis given. Defaults for tests: the offline model with no delays (override <c>Llm:Offline:TimeToFirstTokenMs</c>,
/// <c>Llm:Offline:InterTokenDelayMs</c> and any other key through <c>settings</c>). Stops in DisposeAsync.
/// </summary>
public sealed class LlmServiceHost : IAsyncDisposable
{
    private readonly Factory _factory;
    private readonly GrpcChannel _channel;

    private LlmServiceHost(Factory factory, string address)
    {
        _factory = factory;
        Address = address;
        _channel = CreateChannel(address);
    }

    /// <summary>http://127.0.0.1:port (h2c: the service speaks HTTP/2 only).</summary>
    public string Address { get; }

    public IServiceProvider Services => _factory.Services;

    public GrpcChannel Channel => _channel;

    public static async Task<LlmServiceHost> StartAsync(
        string redisConnectionString,
        IReadOnlyDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? configureServices = null)
    {
        var merged = new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redisConnectionString,
            ["Llm:Provider"] = "offline",
            ["Llm:Offline:TimeToFirstTokenMs"] = "0",
            ["Llm:Offline:InterTokenDelayMs"] = "0",
            // Never the real Gemini from a test, whatever the environment holds.
            ["GEMINI_API_KEY"] = "",
            ["GOOGLE_API_KEY"] = "",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        var factory = new Factory(merged, configureServices);
        try
        {
            // Building the host off the test's thread: WebApplicationFactory blocks while the app starts.
            await Task.Run(factory.StartServer).DefaultTimeout();
            var addresses = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
            var address = addresses.Addresses.First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
            return new LlmServiceHost(factory, address);
        }
        catch
        {
            await factory.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client on this host's shared channel (one HTTP/2 connection pool per host).</summary>
    public LlmService.LlmServiceClient CreateClient() => new(_channel);

    /// <summary>A client on a channel of its own, for tests that need separate connections.</summary>
    public LlmService.LlmServiceClient CreateClientOnNewChannel() => new(CreateChannel(Address));

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _factory.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static GrpcChannel CreateChannel(string address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
    });

    private sealed class Factory : WebApplicationFactory<llm::Program>
    {
        private readonly IReadOnlyDictionary<string, string?> _settings;
        private readonly Action<IServiceCollection>? _configureServices;

        public Factory(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? configureServices)
        {
            _settings = settings;
            _configureServices = configureServices;
            UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in _settings)
            {
                builder.UseSetting(key, value);
            }

            builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(_settings));
            if (_configureServices is not null)
            {
                builder.ConfigureServices(_configureServices);
            }
        }
    }
}

/// <summary>A real redis-server plus Chat.Llm.Service in-process, shared by a test collection.</summary>
public sealed class LlmServiceFixture : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;

    public LlmServiceHost Host { get; private set; } = null!;

    public LlmService.LlmServiceClient CreateClient() => Host.CreateClient();

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync().DefaultTimeout();
        Host = await LlmServiceHost.StartAsync(Redis.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LlmServiceCollection : ICollectionFixture<LlmServiceFixture>
{
    public const string Name = "llm-service";
}
