using System.Collections.Concurrent;
using System.Net;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Tests.Gateway;

/// <summary>What a backend saw of one request: enough to check routing, forwarded headers and trace context.</summary>
public sealed record SeenRequest(string Backend, string Path, string Query, string? Protocol, IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// A small real Kestrel app on a free loopback port standing in for one transport replica: it records every request,
/// answers X-Served-By with its own name, and has a /health that a test can switch to 503.
/// </summary>
public sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile bool _healthy = true;

    private TestBackend(string name, WebApplication app, string address)
    {
        Name = name;
        _app = app;
        Address = address;
    }

    public string Name { get; }

    public string Address { get; }

    public ConcurrentQueue<SeenRequest> Seen { get; } = new();

    public bool Healthy
    {
        get => _healthy;
        set => _healthy = value;
    }

    public static async Task<TestBackend> StartAsync(
        string name,
        HttpProtocols protocols,
        Action<WebApplication> map,
        Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Nothing from the test folder's appsettings or the environment: this app is exactly what the test says.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = protocols));
        services?.Invoke(builder.Services);

        var app = builder.Build();
        TestBackend? backend = null;
        app.Use(async (context, next) =>
        {
            backend!.Seen.Enqueue(new SeenRequest(
                name,
                context.Request.Path.Value ?? "",
                context.Request.QueryString.Value ?? "",
                context.Request.Protocol,
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
            context.Response.Headers["X-Served-By"] = name;
            await next(context);
        });
        app.MapGet("/health", (HttpContext context) => backend!.Healthy
            ? Results.Text("Healthy")
            : Results.Text("Unhealthy", statusCode: StatusCodes.Status503ServiceUnavailable));
        map(app);

        await app.StartAsync().DefaultTimeout();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        backend = new TestBackend(name, app, address);
        return backend;
    }

    /// <summary>Requests other than health probes, in arrival order.</summary>
    public IEnumerable<SeenRequest> Requests => Seen.Where(r => r.Path != "/health");

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(stopping.Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}
