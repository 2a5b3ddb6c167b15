using Chat.Dashboard.Resources;
using Chat.Hosting.Orchestration;
using Chat.Hosting.Publishing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Chat.Hosting;

/// <summary>
/// Collects the resource graph (AddProject, AddRedis…) over a generic host builder, as Aspire's
/// IDistributedApplicationBuilder: Configuration, Services, Environment and Logging are the host's own.
/// </summary>
public sealed class DistributedApplicationBuilder
{
    private readonly HostApplicationBuilder _host;
    private readonly List<Resource> _resources = [];

    internal DistributedApplicationBuilder(DistributedApplicationOptions options)
    {
        Options = options;
        _host = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = options.Args,
            ApplicationName = "Chat.AppHost",
            // appsettings.json is copied next to the AppHost; the working directory is wherever the user ran it from.
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = options.EnvironmentName,
        });

        _host.Configuration.AddInMemoryCollection(options.Configuration);
        _host.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss ";
        });
        // The orchestrator prints its own "Ready" line with the addresses; the host's lifetime banner would repeat it.
        _host.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
    }

    public DistributedApplicationOptions Options { get; }

    public IConfigurationManager Configuration => _host.Configuration;

    public IServiceCollection Services => _host.Services;

    public IHostEnvironment Environment => _host.Environment;

    public ILoggingBuilder Logging => _host.Logging;

    public IReadOnlyList<Resource> Resources => _resources;

    /// <summary>OTLP endpoint injected into every project (OTEL_EXPORTER_OTLP_ENDPOINT); from Otlp:Endpoint or the dashboard.</summary>
    public OtlpExporterSettings Otlp { get; } = new();

    public IResourceBuilder<T> AddResource<T>(T resource) where T : Resource
    {
        if (_resources.Any(r => string.Equals(r.Name, resource.Name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new DistributedApplicationException($"A resource named '{resource.Name}' is already declared.");
        }

        _resources.Add(resource);
        return new ResourceBuilder<T>(resource, this);
    }

    public DistributedApplication Build()
    {
        // Under DistributedApplicationTestingBuilder the entry point stops here and hands the builder to the test.
        DistributedApplicationTestingHook.Current?.OnBuilding(this);
        return BuildCore();
    }

    internal DistributedApplication BuildCore()
    {
        ApplyReplicaOverrides();
        Otlp.Endpoint ??= Configuration["Otlp:Endpoint"] is { Length: > 0 } endpoint ? endpoint : null;
        Otlp.Protocol = Configuration["Otlp:Protocol"] is { Length: > 0 } protocol ? protocol : Otlp.Protocol;

        // `publish --target kubernetes --output <dir>`: Run() writes manifests from this graph instead of starting it.
        _host.Services.AddPublishing(Options.Args, Configuration);

        var settings = new OrchestratorSettings(Configuration, Options);
        _host.Services.AddSingleton(new ApplicationModel(_resources, Otlp, settings));
        _host.Services.AddSingleton<Orchestrator>();
        _host.Services.AddSingleton<IResourceSource>(services => services.GetRequiredService<Orchestrator>());
        _host.Services.AddHostedService(services => services.GetRequiredService<Orchestrator>());
        return new DistributedApplication(_host.Build());
    }

    /// <summary>Replicas:&lt;name&gt;=n and --replicas name=n,other=m override WithReplicas.</summary>
    private void ApplyReplicaOverrides()
    {
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var child in Configuration.GetSection("Replicas").GetChildren())
        {
            overrides[child.Key] = child.Value;
        }

        foreach (var pair in (Configuration["replicas"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            overrides[parts[0]] = parts.Length == 2 ? parts[1] : null;
        }

        foreach (var (name, value) in overrides)
        {
            var resource = _resources.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase))
                ?? throw new DistributedApplicationException(
                    $"--replicas names '{name}', which is not a resource. Resources: {string.Join(", ", _resources.Select(r => r.Name))}.");
            if (resource is not ProjectResource || !int.TryParse(value, out var replicas) || replicas < 1)
            {
                throw new DistributedApplicationException(
                    $"--replicas {name}={value}: expected a project resource and a count of at least 1 (e.g. --replicas sse=3,websocket=2).");
            }

            resource.Replicas = replicas;
        }
    }
}

/// <summary>How the application is created: by the entry point (Program.cs) or by the testing builder.</summary>
public sealed class DistributedApplicationOptions
{
    public string[] Args { get; set; } = [];

    /// <summary>Configuration that overrides appsettings.json, environment and command line (tests use it).</summary>
    public Dictionary<string, string?> Configuration { get; } = new(StringComparer.OrdinalIgnoreCase);

    public string? EnvironmentName { get; set; }

    /// <summary>Fixed ports (gateway 8000/50051) become free ones, so tests never collide with a running copy.</summary>
    public bool RandomizePorts { get; set; }

    /// <summary>AddDashboard() does nothing (Aspire's testing builder disables the dashboard too).</summary>
    public bool DisableDashboard { get; set; }
}

/// <summary>OTLP exporter settings given to every project.</summary>
public sealed class OtlpExporterSettings
{
    public string? Endpoint { get; set; }

    /// <summary>"grpc" or "http/protobuf".</summary>
    public string Protocol { get; set; } = "grpc";
}
