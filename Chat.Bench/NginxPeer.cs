using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Spectre.Console;

namespace Chat.Bench;

/// <summary>
/// The peer arm A2n: nginx (the Debian package) in front of the same transport replicas as the gateway, on the same
/// paths (/rest/, /streaming/, /sse/, /websocket/ on an HTTP/1.1 port; native gRPC on an h2c port), configured as the
/// research method names it: HTTP/1.1 to the upstreams with keep-alive, no buffering, WebSocket upgrade passed on,
/// grpc_pass for gRPC. Installed with apt when missing and the bench runs as root; otherwise the arm is skipped
/// (the reason is printed and written to the report).
/// </summary>
public sealed class NginxPeer : IAsyncDisposable
{
    private const string Binary = "/usr/sbin/nginx";
    private readonly Process _master;
    private readonly string _directory;

    private NginxPeer(Process master, string directory, Uri http, Uri http2)
    {
        _master = master;
        _directory = directory;
        Http = http;
        Http2 = http2;
    }

    public Uri Http { get; }

    public Uri Http2 { get; }

    /// <summary>nginx's master and its workers (the workers carry the traffic).</summary>
    public WatchedProcess Processes()
    {
        var pids = new List<int> { _master.Id };
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && ParentOf(pid) == _master.Id)
            {
                pids.Add(pid);
            }
        }

        return new WatchedProcess("nginx", pids);
    }

    /// <summary>Starts nginx in front of <paramref name="transports"/>; null (with the reason) when it cannot.</summary>
    public static async Task<(NginxPeer? Peer, string? Skipped)> StartAsync(IReadOnlyDictionary<string, Uri> transports, CancellationToken cancellationToken)
    {
        if (!File.Exists(Binary) && await InstallAsync(cancellationToken) is { } failure)
        {
            return (null, failure);
        }

        var directory = Directory.CreateTempSubdirectory("chat-bench-nginx-").FullName;
        var http = FreePort();
        var http2 = FreePort();
        var config = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(config, Configuration(directory, http, http2, transports), cancellationToken);
        var start = new ProcessStartInfo(Binary, ["-p", directory, "-c", config, "-e", Path.Combine(directory, "error.log")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var master = Process.Start(start)!;
        var peer = new NginxPeer(master, directory, new Uri($"http://127.0.0.1:{http}/"), new Uri($"http://127.0.0.1:{http2}/"));
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 10;
        while (!await AcceptsAsync(http) || !await AcceptsAsync(http2))
        {
            if (master.HasExited || Stopwatch.GetTimestamp() > deadline)
            {
                var log = File.Exists(Path.Combine(directory, "error.log")) ? await File.ReadAllTextAsync(Path.Combine(directory, "error.log"), cancellationToken) : "";
                await peer.DisposeAsync();
                return (null, $"nginx did not start: {await master.StandardError.ReadToEndAsync(cancellationToken)} {log}".Trim());
            }

            await Task.Delay(100, cancellationToken);
        }

        return (peer, null);
    }

    /// <summary>The configuration: the gateway's routes, for the benchmark's paths.</summary>
    internal static string Configuration(string directory, int http, int http2, IReadOnlyDictionary<string, Uri> transports)
    {
        string Upstream(string name) => transports.TryGetValue(name, out var uri)
            ? $$"""
                  upstream {{name}} { server 127.0.0.1:{{uri.Port.ToString(CultureInfo.InvariantCulture)}}; keepalive 1024; keepalive_requests 1000000; keepalive_timeout 300s; }

              """
            : "";
        string Location(string name, bool stream) => transports.ContainsKey(name)
            ? $$"""
                      location /{{name}}/ {
                          proxy_pass http://{{name}}/;
                          proxy_http_version 1.1;
                          proxy_set_header Connection "";
                          proxy_set_header Host $host;
                          proxy_buffering {{(stream ? "off" : "on")}};
                          proxy_read_timeout 600s;
                      }

              """
            : "";

        return $$"""
            # Written by Chat.Bench: the peer arm A2n (docs/performance.md).
            worker_processes auto;
            worker_rlimit_nofile 20000;
            daemon off;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 16384; multi_accept on; }
            http {
                access_log off;
                client_body_temp_path {{directory}}/body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                tcp_nodelay on;
                keepalive_timeout 300s;
                keepalive_requests 1000000;
                map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
            {{Upstream("rest")}}{{Upstream("streaming")}}{{Upstream("sse")}}{{Upstream("websocket")}}{{Upstream("grpc")}}
                server {
                    listen 127.0.0.1:{{http.ToString(CultureInfo.InvariantCulture)}} backlog=4096;
            {{Location("rest", stream: false)}}{{Location("streaming", stream: true)}}{{Location("sse", stream: true)}}
                    location /websocket/ {
                        proxy_pass http://websocket/;
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection $connection_upgrade;
                        proxy_set_header Host $host;
                        proxy_read_timeout 600s;
                    }
                }
                server {
                    listen 127.0.0.1:{{http2.ToString(CultureInfo.InvariantCulture)}} http2 backlog=4096;
                    http2_max_concurrent_streams 1000;
                    location / {
                        grpc_pass grpc://grpc;
                        grpc_read_timeout 600s;
                        grpc_send_timeout 600s;
                    }
                }
            }

            """;
    }

    private static async Task<string?> InstallAsync(CancellationToken cancellationToken)
    {
        if (Environment.UserName != "root")
        {
            return $"{Binary} is not installed and the bench is not root (apt-get install nginx)";
        }

        AnsiConsole.MarkupLine("[grey]installing nginx (apt-get install -y nginx) for the peer arm A2n…[/]");
        // policy-rc.d (present in containers) keeps the package's own service from starting; we start our own copy.
        var start = new ProcessStartInfo("apt-get", ["install", "-y", "-q", "--no-install-recommends", "nginx"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment = { ["DEBIAN_FRONTEND"] = "noninteractive" },
        };
        using var apt = Process.Start(start)!;
        var output = apt.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = await apt.StandardError.ReadToEndAsync(cancellationToken);
        await apt.WaitForExitAsync(cancellationToken);
        await output;
        return apt.ExitCode == 0 && File.Exists(Binary) ? null : $"apt-get install nginx failed ({apt.ExitCode}): {error.Trim()}";
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return -1;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_master.HasExited)
        {
            // SIGQUIT: graceful stop of the master and its workers (Process.Kill would orphan the workers).
            using var kill = Process.Start("kill", ["-QUIT", _master.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }

        try
        {
            await _master.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            _master.Kill(entireProcessTree: true);
        }

        _master.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
