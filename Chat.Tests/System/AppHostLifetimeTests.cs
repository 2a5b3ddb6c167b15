extern alias apphost;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Chat.Contracts.Llm.V1;
using Chat.Hosting;
using Chat.Hosting.Testing;
using Chat.Tests.Infrastructure;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

/// <summary>Starting and stopping the whole application, and what happens when something is missing.</summary>
public sealed partial class AppHostLifetimeTests
{
    [Fact]
    public async Task WholeGraph_StartConverseStop_LeavesNoProcessBehind()
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Program>([], SystemTestSettings.Apply).DefaultTimeout();
        IReadOnlyList<int> processIds;
        await using (var app = await appHost.BuildAsync().DefaultTimeout())
        {
            await app.StartAsync().DefaultTimeout();
            await app.WaitForAllResourcesHealthyAsync().WaitAsync(TimeSpan.FromSeconds(60));
            processIds = app.GetProcessIds();
            Assert.Equal(app.Resources.GetResources().Count, processIds.Count);

            using var channel = app.CreateGrpcChannel("llm");
            var client = new LlmService.LlmServiceClient(channel);
            var session = await client.CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
            await LlmConversation.TurnAsync(client, session.Id, "Hello.").DefaultTimeout();
            var second = await LlmConversation.TurnAsync(client, session.Id, "Hello again.").DefaultTimeout();
            Assert.Equal(2, second.Accepted.MessageCount);
        }

        Assert.All(processIds, pid => Assert.False(SupervisionTests.ProcessIsAlive(pid), $"process {pid} outlived the application"));
    }

    [Fact]
    public async Task AppHostKilled_ItsChildrenExitToo_AndTheNextRunStartsCleanly()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("chat-apphost-kill-").FullName;
        try
        {
            var (firstHost, firstChildren) = await StartAppHostProcessAsync(dataDirectory);
            using (firstHost)
            {
                Assert.True(firstChildren.Count >= 8, $"expected every replica in the ready table, got {firstChildren.Count}");
                firstHost.Kill(); // SIGKILL to the AppHost alone: no graceful stop, no chance to clean up.
                await firstHost.WaitForExitAsync().DefaultTimeout();
                await WaitUntilAsync(() => firstChildren.All(pid => !SupervisionTests.ProcessIsAlive(pid)), TimeSpan.FromSeconds(20));
            }

            var (secondHost, secondChildren) = await StartAppHostProcessAsync(dataDirectory);
            using (secondHost)
            {
                // SIGTERM (what Ctrl+C or a service manager sends): graceful, dependants first, exit code 0.
                using (var term = Process.Start("kill", ["-TERM", secondHost.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                {
                    await term.WaitForExitAsync().DefaultTimeout();
                }

                await secondHost.WaitForExitAsync().DefaultTimeout();
                Assert.Equal(0, secondHost.ExitCode);
                Assert.All(secondChildren, pid => Assert.False(SupervisionTests.ProcessIsAlive(pid), $"process {pid} outlived the AppHost"));
            }
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Start_WithoutBuildOutput_FailsWithAMessageSayingWhatToDo()
    {
        var appHost = DistributedApplicationTestingBuilder.Create();
        appHost.Builder.AddProject<NeverBuiltProject>("ghost");
        await using var app = await appHost.BuildAsync().DefaultTimeout();

        var error = await Assert.ThrowsAsync<DistributedApplicationException>(() => app.StartAsync()).DefaultTimeout();

        Assert.Contains("'ghost' has no build output at /nowhere/Chat.Ghost/bin/Release/net10.0/Chat.Ghost.dll", error.Message, StringComparison.Ordinal);
        Assert.Contains("dotnet build", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithAFixedPortInUse_FailsWithAMessageNamingThePort()
    {
        using var squatter = new TcpListener(System.Net.IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((System.Net.IPEndPoint)squatter.LocalEndpoint).Port;
        var appHost = DistributedApplicationTestingBuilder.Create(options => options.RandomizePorts = false);
        appHost.Builder.AddProject<Projects.Chat_Rest>("rest").WithHttpEndpoint(port: port, name: "http");
        await using var app = await appHost.BuildAsync().DefaultTimeout();

        var error = await Assert.ThrowsAsync<DistributedApplicationException>(() => app.StartAsync()).DefaultTimeout();

        Assert.StartsWith($"Port {port} (rest http) is in use", error.Message, StringComparison.Ordinal);
        Assert.Empty(app.Resources.GetResources());
    }

    [Fact]
    public async Task Start_WithAnUnknownRedisServer_FailsWithTheChoices()
    {
        var appHost = DistributedApplicationTestingBuilder.Create(options => options.Configuration["Redis:Server"] = "memcached");
        appHost.Builder.AddRedis("redis");
        await using var app = await appHost.BuildAsync().DefaultTimeout();

        var error = await Assert.ThrowsAsync<DistributedApplicationException>(() => app.StartAsync()).DefaultTimeout();

        Assert.Equal("Redis:Server is 'memcached': expected auto, redis-server or garnet.", error.Message);
    }

    [Fact]
    public async Task Environment_ReachesTheProcessWhole_ButSnapshotsHideSecrets()
    {
        var appHost = DistributedApplicationTestingBuilder.Create();
        appHost.Builder.AddExecutable("printer", "/bin/sh", Path.GetTempPath(), "-c", "echo \"key=$GEMINI_API_KEY\"; exec sleep 30")
            .WithEnvironment("GEMINI_API_KEY", "sk-not-for-logs")
            .WithEnvironment("Llm__Offline__InterTokenDelayMs", "5")
            .WithEnvironment("ConnectionStrings__cache", "cache:6379,password=hunter2,ssl=true");
        await using var app = await appHost.BuildAsync().DefaultTimeout();
        await app.StartAsync().DefaultTimeout();
        var firstLine = await FirstConsoleLineAsync(app, "printer-0").DefaultTimeout();

        var environment = app.GetResourceSnapshots("printer").Single().Environment;
        Assert.Equal("***", environment["GEMINI_API_KEY"]);
        Assert.Equal("5", environment["Llm__Offline__InterTokenDelayMs"]);
        Assert.Equal("cache:6379,password=***,ssl=true", environment["ConnectionStrings__cache"]);
        Assert.Equal("printer", environment["OTEL_SERVICE_NAME"]);
        Assert.Equal("key=sk-not-for-logs", firstLine);
    }

    private static async Task<string> FirstConsoleLineAsync(DistributedApplication app, string replica)
    {
        using var cancellation = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        await foreach (var line in app.Resources.WatchConsoleLogs(replica, 0, cancellation.Token))
        {
            return line.Text;
        }

        throw new InvalidOperationException("no console output");
    }

    [Fact]
    public async Task Replicas_FromTheCommandLineAndConfiguration_OverrideProgramCs()
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Program>(
            ["--replicas", "sse=3,websocket=2", "--Replicas:rest=4"], configure: null).DefaultTimeout();
        await using var app = await appHost.BuildAsync().DefaultTimeout();

        var replicas = appHost.Resources.ToDictionary(r => r.Name, r => r.Replicas);
        Assert.Equal(3, replicas["sse"]);
        Assert.Equal(2, replicas["websocket"]);
        Assert.Equal(4, replicas["rest"]);
        Assert.Equal(1, replicas["gateway"]);
    }

    [Fact]
    public async Task Replicas_NamingAnUnknownResource_FailsWithTheListOfResources()
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Program>(["--replicas", "ssee=2"], configure: null).DefaultTimeout();

        var error = await Assert.ThrowsAsync<DistributedApplicationException>(() => appHost.BuildAsync()).DefaultTimeout();

        Assert.Contains("'ssee', which is not a resource", error.Message, StringComparison.Ordinal);
        Assert.Contains("sse", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Runs the real AppHost (as `dotnet run` would, minus the build) and reads its ready table.</summary>
    private static async Task<(Process Host, List<int> Children)> StartAppHostProcessAsync(string dataDirectory)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            new Projects.Chat_AppHost().OutputAssembly(), "--AppHost:RandomizePorts=true", $"--Redis:DataDirectory={dataDirectory}",
            "--Llm:Provider=offline",
        })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Development";
        var host = Process.Start(start)!;
        var children = new List<int>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Text.StringBuilder();
        host.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException($"the AppHost exited before it was ready:\n{output}"));
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
                if (PidInReadyTable().Match(e.Data) is { Success: true } match)
                {
                    children.Add(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
                }

                if (e.Data.Contains("gateway-0", StringComparison.Ordinal) && children.Count > 0)
                {
                    ready.TrySetResult();
                }
            }
        };
        host.ErrorDataReceived += (_, _) => { };
        host.BeginOutputReadLine();
        host.BeginErrorReadLine();
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            host.Kill(entireProcessTree: true);
            host.Dispose();
            lock (output)
            {
                // What the AppHost said so far is the only clue to why it never became ready.
                throw new TimeoutException($"the AppHost was not ready within 60 s:\n{output}");
            }
        }
        catch
        {
            host.Kill(entireProcessTree: true);
            host.Dispose();
            throw;
        }

        lock (output)
        {
            return (host, children.ToList());
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(100);
        }
    }

    [GeneratedRegex(@"^\S+ info: Chat\.AppHost\S* +\S+-\d+ +\S+ +pid (\d+) ")]
    private static partial Regex PidInReadyTable();

    private sealed class NeverBuiltProject : IProjectMetadata
    {
        public string ProjectPath => "/nowhere/Chat.Ghost/Chat.Ghost.csproj";

        public string AssemblyName => "Chat.Ghost";

        public string Configuration => "Release";

        public string TargetFramework => "net10.0";
    }
}
