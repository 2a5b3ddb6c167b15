using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Chat.Hosting.Orchestration;

/// <summary>One health check of one replica: true when it is ready to serve.</summary>
internal interface IHealthProbe : IAsyncDisposable
{
    Task<bool> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>Healthy while the process runs (resources without a health check, as in Aspire).</summary>
internal sealed class AlwaysHealthy : IHealthProbe
{
    public Task<bool> CheckAsync(CancellationToken cancellationToken) => Task.FromResult(true);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// GET path → 2xx. HTTP/2-only (h2c) endpoints are asked with HTTP/2 prior knowledge; if the declared protocol is
/// refused the other one is tried, and whichever answers is kept (a shell service may not yet be HTTP/2-only).
/// </summary>
internal sealed class HttpHealthProbe(Uri address, bool http2) : IHealthProbe
{
    private static readonly HttpClient s_client = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(2),
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        UseProxy = false,
    })
    {
        Timeout = TimeSpan.FromSeconds(3),
    };

    private bool _http2 = http2;

    public async Task<bool> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, address)
            {
                Version = _http2 ? HttpVersion.Version20 : HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            using var response = await s_client.SendAsync(request, cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException { HttpRequestError: not HttpRequestError.ConnectionError } or IOException)
        {
            _http2 = !_http2;
            return false;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>PING → +PONG over a plain socket: the local redis-server or Garnet this AppHost started.</summary>
internal sealed class RedisPingProbe(int port) : IHealthProbe
{
    public async Task<bool> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            await using var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[7];
            var read = await stream.ReadAtLeastAsync(buffer, 5, throwOnEndOfStream: false, timeout.Token);
            return read >= 5 && buffer.AsSpan(0, 5).SequenceEqual("+PONG"u8);
        }
        catch (Exception e) when (e is SocketException or IOException || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>PING through StackExchange.Redis: an external server may need a password or TLS.</summary>
internal sealed class RedisConnectionProbe(string connectionString) : IHealthProbe
{
    private ConnectionMultiplexer? _connection;

    public async Task<bool> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_connection is null)
            {
                var options = ConfigurationOptions.Parse(connectionString);
                options.AbortOnConnectFail = false;
                options.ConnectTimeout = 2000;
                _connection = await ConnectionMultiplexer.ConnectAsync(options);
            }

            await _connection.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }
}
