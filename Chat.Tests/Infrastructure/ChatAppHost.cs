using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// Starts Chat.AppHost's graph with Aspire.Hosting.Testing (DCP, real processes, real Redis), with what every test
/// wants: a throw-away Redis data folder, fast restarts after a crash, no telemetry leaving for a developer's running
/// dashboard. Settings are passed as command-line arguments, which win over every other configuration source.
/// </summary>
public static class ChatAppHost
{
    /// <summary>The offline model answering at once: most tests are about the system, not the pacing.</summary>
    public static readonly IReadOnlyDictionary<string, string?> FastOfflineModel = new Dictionary<string, string?>
    {
        ["Llm:Provider"] = "offline",
        ["Llm:Offline:TimeToFirstTokenMs"] = "0",
        ["Llm:Offline:InterTokenDelayMs"] = "0",
    };

    /// <param name="args">The AppHost's own command line (e.g. "--replicas", "sse=2").</param>
    /// <param name="settings">Configuration keys (Llm:Provider, Gateway:ApiKeys:alice:Key…), given as --Key=Value.</param>
    /// <param name="enableDashboard">Run the Aspire dashboard too (Aspire.Hosting.Testing leaves it off).</param>
    /// <param name="output">A test that owns this graph gets the services' output in its own (shown when it fails).</param>
    public static async Task<IDistributedApplicationTestingBuilder> CreateAsync(
        string[]? args = null, IReadOnlyDictionary<string, string?>? settings = null, bool enableDashboard = false,
        ITestOutputHelper? output = null, [CallerFilePath] string callerFile = "", [CallerMemberName] string caller = "")
    {
        var dataDirectory = Directory.CreateTempSubdirectory("chat-apphost-test-").FullName;
        var defaults = new Dictionary<string, string?>
        {
            ["Redis:DataDirectory"] = dataDirectory,
            ["AppHost:RestartDelayMs"] = "200",
        };
        if (enableDashboard)
        {
            // As the run command's launch profile has it: no login token, plain HTTP on loopback.
            defaults["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
            defaults["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        }
        else
        {
            // No OTLP collector in tests unless a test brings one: the services' exporters get a closed local port.
            defaults["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = "http://127.0.0.1:9";
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            defaults[key] = value;
        }

        var commandLine = (args ?? []).Concat(defaults.Where(pair => pair.Value is not null).Select(pair => $"--{pair.Key}={pair.Value}")).ToArray();
        // DisableDashboard = false (not the EnableDashboard option, which forces a login token): the dashboard as the
        // run command's launch profile has it, anonymous on loopback.
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Chat_AppHost>(
            commandLine, (options, _) => options.DisableDashboard = !enableDashboard).DefaultTimeout();
        builder.Services.AddSingleton(new TemporaryDirectory(dataDirectory));
        return builder.WithResourceStates(output, callerFile, caller);
    }

    /// <summary>
    /// Keeps every resource's latest state by name (for <see cref="ChatAppExtensions.GetResourceSnapshots"/>) and its
    /// console output, written to .test-artifacts/logs/&lt;caller&gt;-&lt;n&gt;/ when the graph stops; the AppHost's own log goes
    /// there too instead of the test run's console.
    /// </summary>
    public static IDistributedApplicationTestingBuilder WithResourceStates(this IDistributedApplicationTestingBuilder builder,
        ITestOutputHelper? output = null, [CallerFilePath] string callerFile = "", [CallerMemberName] string caller = "")
    {
        var name = $"{Path.GetFileNameWithoutExtension(callerFile)}.{caller}-{Interlocked.Increment(ref s_runs)}";
        var appHostLog = new CapturingLoggerProvider();
        builder.Services.AddLogging(logging => logging.ClearProviders().AddProvider(appHostLog));
        builder.Services.AddSingleton(appHostLog);
        builder.Services.AddSingleton(new TestRun(name, output));
        builder.Services.AddSingleton<ResourceStates>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ResourceStates>());
        return builder;
    }

    private static int s_runs;

    /// <summary>
    /// Builds and starts the graph and waits until every resource is healthy; a graph that fails on the way is stopped
    /// before the failure propagates, so no process outlives the test.
    /// </summary>
    public static async Task<DistributedApplication> StartHealthyAsync(this IDistributedApplicationTestingBuilder builder, TimeSpan? healthyWithin = null)
    {
        var app = await builder.BuildAsync().DefaultTimeout();
        try
        {
            await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(90));
            await app.WaitForAllResourcesHealthyAsync().WaitAsync(healthyWithin ?? TimeSpan.FromSeconds(90));
            return app;
        }
        catch (Exception e)
        {
            // What the processes that did not come up said is the only clue to why.
            var report = new System.Text.StringBuilder();
            foreach (var resource in app.ProcessResources())
            {
                var snapshot = app.GetResourceSnapshots(resource.Name).First(r => r.Name == resource.Name);
                if (snapshot.State != "Running" || snapshot.Health != "Healthy")
                {
                    report.AppendLine($"--- {resource.Name}: {snapshot.State ?? "no state"}, {snapshot.Health ?? "no health"}, exit {snapshot.ExitCode}");
                    report.AppendLine(await app.GetConsoleLogAsync(resource.Name, 60));
                }
            }

            await app.DisposeAsync();
            throw new InvalidOperationException($"The graph did not become healthy: {e.Message}\n{report}", e);
        }
    }

    /// <summary>Create, build, start and wait: the whole graph of Program.cs, healthy.</summary>
    public static async Task<DistributedApplication> StartAsync(string[]? args = null, IReadOnlyDictionary<string, string?>? settings = null,
        bool enableDashboard = false, ITestOutputHelper? output = null, [CallerFilePath] string callerFile = "", [CallerMemberName] string caller = "") =>
        await (await CreateAsync(args, settings, enableDashboard, output, callerFile, caller)).StartHealthyAsync();

    /// <summary>Deleted when the application is disposed (the container disposes its singletons).</summary>
    private sealed class TemporaryDirectory(string path) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

