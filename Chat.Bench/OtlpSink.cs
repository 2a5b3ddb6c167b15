using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Bench;

/// <summary>
/// Where the services' telemetry goes during a run: an OTLP/HTTP endpoint that accepts every export (traces, metrics,
/// logs) and throws it away, counting requests and bytes. So the services pay what exporting to a working collector
/// costs (not the retries of exporting to nothing), and the report says how much telemetry a token costs on the wire.
/// </summary>
public sealed class OtlpSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _requests;
    private long _bytes;

    private OtlpSink(WebApplication app) => _app = app;

    public Uri Endpoint { get; private set; } = null!;

    public long Requests => Interlocked.Read(ref _requests);

    public long Bytes => Interlocked.Read(ref _bytes);

    public static async Task<OtlpSink> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var sink = new OtlpSink(app);
        app.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            var buffer = new byte[16 * 1024];
            long total = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                total += read;
            }

            Interlocked.Increment(ref sink._requests);
            Interlocked.Add(ref sink._bytes, total);
            // An empty Export*ServiceResponse: everything accepted.
            context.Response.ContentType = "application/x-protobuf";
        });
        await app.StartAsync(cancellationToken);
        sink.Endpoint = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return sink;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
