using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// An HTTP transport (Chat.Rest, Chat.Streaming, Chat.Sse… named by its Program through an extern alias) running
/// in-process on real Kestrel (HTTP/1.1, free loopback port), calling the Chat.Llm.Service at the address given
/// through service discovery configuration (<c>services:llm:http:0</c>), as the AppHost wires it. Stops in DisposeAsync.
/// </summary>
public sealed class TransportHost<TEntryPoint> : IAsyncDisposable where TEntryPoint : class
{
    private readonly Factory _factory;

    private TransportHost(Factory factory, Uri baseAddress)
    {
        _factory = factory;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public IServiceProvider Services => _factory.Services;

    public static async Task<TransportHost<TEntryPoint>> StartAsync(
        string llmAddress, string instanceId, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var merged = new Dictionary<string, string?>
        {
            ["services:llm:http:0"] = llmAddress,
            ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={instanceId}",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        var factory = new Factory(merged);
        try
        {
            await Task.Run(factory.StartServer).DefaultTimeout();
            var addresses = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
            var address = addresses.Addresses.First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
            return new TransportHost<TEntryPoint>(factory, new Uri(address + "/"));
        }
        catch
        {
            await factory.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client on real sockets, with no automatic decompression or buffering in the way of streams.</summary>
    public HttpClient CreateClient() => new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None })
    {
        BaseAddress = BaseAddress,
        Timeout = TaskExtensions.DefaultTimeoutSpan,
    };

    public async ValueTask DisposeAsync() =>
        await _factory.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    private sealed class Factory : WebApplicationFactory<TEntryPoint>
    {
        private readonly IReadOnlyDictionary<string, string?> _settings;

        public Factory(IReadOnlyDictionary<string, string?> settings)
        {
            _settings = settings;
            UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
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
