using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Xunit.Abstractions;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

/// <summary>Starting and stopping the whole application, and what happens when something is wrong.</summary>
public sealed class AppHostLifetimeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task WholeGraph_StartConverseStop_LeavesNoProcessBehind()
    {
        IReadOnlyList<int> processIds;
        await using (var app = await ChatAppHost.StartAsync(settings: ChatAppHost.FastOfflineModel, output: output))
        {
            processIds = app.GetProcessIds();
            Assert.Equal(app.ProcessResources().Count, processIds.Count);

            using var channel = await app.CreateGrpcChannelAsync("llm");
            var client = new LlmService.LlmServiceClient(channel);
            var session = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
            await LlmConversation.TurnAsync(client, session.Id, "Hello.").DefaultTimeout();
            var second = await LlmConversation.TurnAsync(client, session.Id, "Hello again.").DefaultTimeout();
            Assert.Equal(2, second.Accepted.MessageCount);
        }

        Assert.All(processIds, pid => Assert.False(SupervisionTests.ProcessIsAlive(pid), $"process {pid} outlived the application"));
    }

    [Fact]
    public async Task AppHostKilled_ItsChildrenExitToo_AndAGracefulStopLeavesNothing()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("chat-apphost-kill-").FullName;
        try
        {
            using (var first = await AppHostProcess.StartAsync(dataDirectory))
            {
                Assert.True(first.Children().Count >= 10, $"expected DCP, the dashboard and every service, got {first.Children().Count}");
                first.Host.Kill(); // SIGKILL to the AppHost alone: no graceful stop, no chance to clean up.
                await first.Host.WaitForExitAsync().DefaultTimeout();
                await WaitUntilAsync(() => first.Children().Count == 0, TimeSpan.FromSeconds(60), () => first.Describe());
            }

            using var second = await AppHostProcess.StartAsync(dataDirectory);
            var children = second.Children();
            // SIGTERM (what Ctrl+C or a service manager sends): graceful, exit code 0, nothing left.
            using (var term = Process.Start("kill", ["-TERM", second.Host.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync().DefaultTimeout();
            }

            await second.Host.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(0, second.Host.ExitCode);
            await WaitUntilAsync(() => children.All(pid => !SupervisionTests.ProcessIsAlive(pid)), TimeSpan.FromSeconds(30), () => second.Describe());
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Start_WithTheGatewayPortInUse_FailsWithAMessageNamingThePort()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var appHost = await ChatAppHost.CreateAsync(settings: new Dictionary<string, string?>
        {
            ["DcpPublisher:RandomizePorts"] = "false",
            ["Gateway:HttpPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Gateway:Http2Port"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await using var app = await appHost.BuildAsync().DefaultTimeout();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync()).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.Contains($"Port {port} (gateway http) is in use", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithAnUnknownRedisServer_FailsWithTheChoices()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatAppHost.CreateAsync(settings: new Dictionary<string, string?> { ["Redis:Server"] = "memcached" }));

        Assert.Contains("Redis:Server is 'memcached': expected auto, redis-server or garnet.", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replicas_FromTheCommandLineAndConfiguration_OverrideProgramCs()
    {
        var appHost = await ChatAppHost.CreateAsync(["--replicas", "sse=3,websocket=2"], new Dictionary<string, string?> { ["Replicas:rest"] = "4" });
        await using var app = await appHost.BuildAsync().DefaultTimeout();

        var names = app.ProcessResources().Select(r => r.Name).ToList();
        Assert.Equal(["sse", "sse-1", "sse-2"], names.Where(n => n.StartsWith("sse", StringComparison.Ordinal)));
        Assert.Equal(["websocket", "websocket-1"], names.Where(n => n.StartsWith("websocket", StringComparison.Ordinal)));
        Assert.Equal(["rest", "rest-1", "rest-2", "rest-3"], names.Where(n => n.StartsWith("rest", StringComparison.Ordinal)));
        Assert.Equal(["gateway"], names.Where(n => n.StartsWith("gateway", StringComparison.Ordinal)));
        Assert.Equal(["llm"], names.Where(n => n.StartsWith("llm", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Replicas_NamingAnUnknownService_FailsWithTheListOfServices()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ChatAppHost.CreateAsync(["--replicas", "ssee=2"]));

        Assert.Contains("'ssee', which is not a service that can be scaled", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("sse", error.ToString(), StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met in time:\n{describe()}");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// The real AppHost as `dotnet run --project Chat.AppHost` runs it (minus the build): its own process, DCP, the
    /// Aspire dashboard (on free ports here) and every service. Every process it starts inherits a marker variable,
    /// which is how the test finds them all.
    /// </summary>
    private sealed class AppHostProcess : IDisposable
    {
        private readonly System.Text.StringBuilder _output = new();
        private readonly string _marker;

        private AppHostProcess(Process host, string marker)
        {
            Host = host;
            _marker = marker;
        }

        public Process Host { get; }

        public static async Task<AppHostProcess> StartAsync(string dataDirectory)
        {
            var appHostDll = typeof(Aspire.Hosting.RedisServerExtensions).Assembly.Location;
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { appHostDll, "--DcpPublisher:RandomizePorts=true", $"--Redis:DataDirectory={dataDirectory}", "--Llm:Provider=offline" })
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["DOTNET_ENVIRONMENT"] = "Development";
            start.Environment["ASPNETCORE_URLS"] = $"http://localhost:{FreePort()}";
            start.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://localhost:{FreePort()}";
            start.Environment["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://localhost:{FreePort()}";
            start.Environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
            start.Environment["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
            var marker = Guid.NewGuid().ToString("N");
            start.Environment["CHAT_TEST_MARKER"] = marker;
            var process = new AppHostProcess(Process.Start(start)!, $"CHAT_TEST_MARKER={marker}");
            await process.WaitUntilRunningAsync();
            return process;
        }

        private async Task WaitUntilRunningAsync()
        {
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnLine(string? line)
            {
                if (line is null)
                {
                    ready.TrySetException(new InvalidOperationException($"the AppHost exited before it was ready:\n{Describe()}"));
                    return;
                }

                lock (_output)
                {
                    _output.AppendLine(line);
                }

                if (line.StartsWith("Press Ctrl+C to stop.", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            }

            Host.OutputDataReceived += (_, e) => OnLine(e.Data);
            Host.ErrorDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
            Host.BeginOutputReadLine();
            Host.BeginErrorReadLine();
            try
            {
                await ready.Task.WaitAsync(TimeSpan.FromSeconds(120));
            }
            catch
            {
                var left = Children();
                Host.Kill(entireProcessTree: true);
                KillAll(left);
                throw new TimeoutException($"the AppHost was not ready within 120 s:\n{Describe()}");
            }
        }

        /// <summary>Every live process that carries this run's marker (the AppHost's whole tree, wherever it was re-parented).</summary>
        public List<int> Children()
        {
            var found = new List<int>();
            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Host.Id || !SupervisionTests.ProcessIsAlive(pid))
                {
                    continue;
                }

                try
                {
                    if (File.ReadAllText(Path.Combine(directory, "environ")).Split('\0').Contains(_marker))
                    {
                        found.Add(pid);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }

            return found;
        }

        public string Describe()
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }

        private static void KillAll(IEnumerable<int> pids)
        {
            foreach (var pid in pids)
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill();
                }
                catch (ArgumentException)
                {
                }
            }
        }

        public void Dispose()
        {
            var left = Children();
            if (!Host.HasExited)
            {
                Host.Kill(entireProcessTree: true);
            }

            KillAll(left);
            Host.Dispose();
        }
    }
}
