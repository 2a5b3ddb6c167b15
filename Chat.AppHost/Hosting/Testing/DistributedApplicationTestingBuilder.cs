using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Hosting.Testing;

/// <summary>
/// Our Aspire.Hosting.Testing: runs the AppHost's own Program.cs up to builder.Build(), then hands the builder to the
/// test. Forces what Aspire's testing builder forces: free ports instead of fixed ones (never 8000/50051), no
/// dashboard, the Development environment; and gives Redis a throw-away data folder.
/// <code>
/// var appHost = await DistributedApplicationTestingBuilder.CreateAsync&lt;apphost::Program&gt;(["--replicas", "llm=2"]);
/// await using var app = await appHost.BuildAsync();
/// await app.StartAsync();
/// await app.WaitForResourceHealthyAsync("gateway");
/// using var http = app.CreateHttpClient("gateway");
/// </code>
/// </summary>
public sealed class DistributedApplicationTestingBuilder
{
    private readonly DistributedApplicationBuilder _builder;

    private DistributedApplicationTestingBuilder(DistributedApplicationBuilder builder) => _builder = builder;

    public IConfigurationManager Configuration => _builder.Configuration;

    public IServiceCollection Services => _builder.Services;

    public IReadOnlyList<Resource> Resources => _builder.Resources;

    /// <summary>An empty application for a test to declare its own small graph (AddRedis, AddProject&lt;Projects.X&gt;…).</summary>
    public static DistributedApplicationTestingBuilder Create(Action<DistributedApplicationOptions>? configure = null)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("chat-apphost-test-").FullName;
        var options = new DistributedApplicationOptions();
        ApplyTestingDefaults(options, dataDirectory);
        configure?.Invoke(options);
        var builder = new DistributedApplicationBuilder(options);
        builder.Services.AddSingleton(new TemporaryDirectory(dataDirectory));
        return new DistributedApplicationTestingBuilder(builder);
    }

    public IResourceBuilder<T> AddResource<T>(T resource) where T : Resource => _builder.AddResource(resource);

    /// <summary>The builder Program.cs would use: AddProject, AddRedis… are its extension methods.</summary>
    public DistributedApplicationBuilder Builder => _builder;

    public static Task<DistributedApplicationTestingBuilder> CreateAsync<TEntryPoint>(CancellationToken cancellationToken = default) where TEntryPoint : class =>
        CreateAsync<TEntryPoint>([], configure: null, cancellationToken);

    /// <param name="args">The AppHost's command line (e.g. "--replicas", "sse=2").</param>
    /// <param name="configure">Options before the builder exists: Configuration overrides (Llm:Offline:*, Redis:*, AppHost:*)...</param>
    public static async Task<DistributedApplicationTestingBuilder> CreateAsync<TEntryPoint>(
        string[] args, Action<DistributedApplicationOptions>? configure, CancellationToken cancellationToken = default)
        where TEntryPoint : class
    {
        var entryPoint = typeof(TEntryPoint).Assembly.EntryPoint
            ?? throw new InvalidOperationException($"{typeof(TEntryPoint).Assembly.GetName().Name} has no entry point.");
        var dataDirectory = Directory.CreateTempSubdirectory("chat-apphost-test-").FullName;
        var built = new TaskCompletionSource<DistributedApplicationBuilder>(TaskCreationOptions.RunContinuationsAsynchronously);
        var hook = new DistributedApplicationTestingHook(options =>
        {
            options.Args = args;
            ApplyTestingDefaults(options, dataDirectory);
            configure?.Invoke(options);
        }, built);

        var entryPointRun = Task.Run(() =>
        {
            DistributedApplicationTestingHook.Current = hook;
            try
            {
                entryPoint.Invoke(null, entryPoint.GetParameters().Length == 0 ? [] : [args]);
            }
            catch (TargetInvocationException e) when (e.InnerException is DistributedApplicationTestingHook.EntryPointStoppedException)
            {
            }
            catch (TargetInvocationException e)
            {
                built.TrySetException(e.InnerException ?? e);
            }

            built.TrySetException(new InvalidOperationException("The AppHost's entry point returned without calling builder.Build()."));
        }, cancellationToken);

        var builder = await built.Task.WaitAsync(cancellationToken);
        builder.Services.AddSingleton(new TemporaryDirectory(dataDirectory));
        await entryPointRun;
        return new DistributedApplicationTestingBuilder(builder);
    }

    private static void ApplyTestingDefaults(DistributedApplicationOptions options, string dataDirectory)
    {
        options.RandomizePorts = true;
        options.DisableDashboard = true;
        options.EnvironmentName = "Development";
        options.Configuration["Redis:DataDirectory"] = dataDirectory;
        // Crashed replicas come back quickly, and a stop does not wait long for a process that ignores SIGTERM.
        options.Configuration["AppHost:RestartDelayMs"] = "200";
        options.Configuration["AppHost:StopTimeoutMs"] = "5000";
    }

    public Task<DistributedApplication> BuildAsync(CancellationToken cancellationToken = default) =>
        Task.Run(_builder.BuildCore, cancellationToken);

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
