using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Aspire.Hosting;

public static class RedisServerExtensions
{
    private static readonly string[] s_redisServerLocations = ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"];

    /// <summary>
    /// The application's Redis, chosen in this order:
    /// <list type="number">
    /// <item>ConnectionStrings:&lt;name&gt; configured: that server, nothing started (Aspire's AddConnectionString).</item>
    /// <item>Publish mode: Aspire's own AddRedis, so manifests carry a real Redis.</item>
    /// <item>Run mode: a local process, since there is no container runtime here: redis-server when installed, else
    /// Garnet from the repository's dotnet tool manifest (so running needs only the .NET SDK). Redis:Server forces one.</item>
    /// </list>
    /// Data of a local server lives in Redis:DataDirectory (default .data/&lt;server&gt; under the repository root).
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddChatRedis(this IDistributedApplicationBuilder builder, string name)
    {
        if (builder.Configuration.GetConnectionString(name) is { Length: > 0 })
        {
            return builder.AddConnectionString(name);
        }

        if (builder.ExecutionContext.IsPublishMode)
        {
            return builder.AddRedis(name);
        }

        return builder.AddRedisServer(name);
    }

    /// <summary>redis-server or Garnet as an executable resource, with a "tcp" endpoint, a connection string and a PING health check.</summary>
    public static IResourceBuilder<RedisServerResource> AddRedisServer(this IDistributedApplicationBuilder builder, string name)
    {
        var repositoryRoot = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));
        var server = (builder.Configuration["Redis:Server"] ?? "auto").ToLowerInvariant();
        if (server is not ("auto" or "redis-server" or "redis" or "garnet"))
        {
            throw new DistributedApplicationException($"Redis:Server is '{server}': expected auto, redis-server or garnet.");
        }

        var redisServer = server is "garnet" ? null : FindRedisServer();
        if (redisServer is null && server is "redis-server" or "redis")
        {
            throw new DistributedApplicationException(
                "Redis:Server is redis-server but no redis-server is installed (looked on PATH and in /usr/bin, /usr/local/bin): "
                + "install it (apt-get install redis-server), use --Redis:Server=garnet, or give an existing server with --ConnectionStrings:redis=host:port.");
        }

        var kind = redisServer is null ? RedisServerKind.Garnet : RedisServerKind.RedisServer;
        var dataDirectory = builder.Configuration["Redis:DataDirectory"] is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(repositoryRoot, ".data", kind == RedisServerKind.Garnet ? "garnet" : name);
        Directory.CreateDirectory(dataDirectory);

        var resource = kind == RedisServerKind.RedisServer
            ? new RedisServerResource(name, redisServer!, dataDirectory, kind)
            : new RedisServerResource(name, "dotnet", dataDirectory, kind);
        var garnet = kind == RedisServerKind.Garnet ? FindGarnet(repositoryRoot) : null;

        // The health check needs the address DCP allocates, known once the connection string is.
        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(resource, async (_, cancellationToken) =>
            connectionString = await resource.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException($"The address of '{name}' is not allocated yet."),
            name: healthCheck);

        return builder.AddResource(resource)
            // Proxyless: clients talk to the server itself, no DCP proxy process on the path; the port comes from
            // Aspire's proxyless range.
            .WithEndpoint(name: RedisServerResource.EndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                var port = resource.Tcp.Property(EndpointProperty.TargetPort);
                if (garnet is not null)
                {
                    context.Args.Add(garnet);
                }

                context.Args.Add("--port");
                context.Args.Add(port);
                foreach (var argument in kind == RedisServerKind.RedisServer ? RedisServerArguments(dataDirectory) : GarnetArguments(dataDirectory))
                {
                    context.Args.Add(argument);
                }
            })
            .WithHealthCheck(healthCheck)
            .WithIconName("Database")
            .WithoutDevelopmentCertificate();
    }

    /// <summary>Loopback only, no password (documented), append-only file: data survives restarts of the AppHost.</summary>
    private static string[] RedisServerArguments(string dataDirectory) =>
    [
        "--bind", "127.0.0.1", "--protected-mode", "no", "--daemonize", "no",
        "--dir", dataDirectory, "--appendonly", "yes", "--appendfsync", "everysec", "--loglevel", "notice",
    ];

    /// <summary>
    /// Garnet rejects Redis's --save; its persistence is a checkpoint directory plus an append-only log replayed by
    /// --recover. --lua turns on EVAL; memory sizes stay small (the defaults reserve gigabytes). The RandomAccess
    /// device avoids Garnet's native Linux device, which needs libaio and crashes the server on its first write without it.
    /// </summary>
    private static string[] GarnetArguments(string dataDirectory) =>
    [
        "--bind", "127.0.0.1", "--checkpointdir", dataDirectory, "--recover", "--aof", "--lua",
        "--memory", "256m", "--index", "32m", "--device-type", "RandomAccess", "--logger-level", "Information",
    ];

    private static string? FindRedisServer()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "redis-server"));
        return onPath.Concat(s_redisServerLocations).FirstOrDefault(File.Exists);
    }

    /// <summary>GarnetServer.dll of the version in dotnet-tools.json, restoring the tool first if it is not there yet.</summary>
    private static string FindGarnet(string repositoryRoot)
    {
        var manifest = Path.Combine(repositoryRoot, "dotnet-tools.json");
        string? version = null;
        if (File.Exists(manifest))
        {
            using var json = JsonDocument.Parse(File.ReadAllText(manifest));
            if (json.RootElement.GetProperty("tools").TryGetProperty("garnet-server", out var tool))
            {
                version = tool.GetProperty("version").GetString();
            }
        }

        if (version is null)
        {
            throw new DistributedApplicationException(
                $"No redis-server is installed and {manifest} does not pin garnet-server: install redis-server, or give an existing server with --ConnectionStrings:redis=host:port.");
        }

        var dll = FindGarnetDll(version);
        if (dll is null)
        {
            using var restore = Process.Start(new ProcessStartInfo("dotnet", "tool restore")
            {
                WorkingDirectory = repositoryRoot,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            restore.StandardOutput.ReadToEnd();
            restore.StandardError.ReadToEnd();
            restore.WaitForExit();
            dll = FindGarnetDll(version);
        }

        return dll ?? throw new DistributedApplicationException(
            $"No redis-server is installed and garnet-server {version} could not be restored (`dotnet tool restore` in {repositoryRoot}): "
            + "install redis-server, or give an existing server with --ConnectionStrings:redis=host:port.");
    }

    private static string? FindGarnetDll(string version)
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var tools = Path.Combine(packages, "garnet-server", version.ToLowerInvariant(), "tools");
        if (!Directory.Exists(tools))
        {
            return null;
        }

        // tools/<tfm>/any/GarnetServer.dll; take the newest framework this runtime can run.
        return Directory.GetDirectories(tools)
            .Where(tfm => int.TryParse(Path.GetFileName(tfm).AsSpan(3).ToString().Split('.')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var major)
                && major <= Environment.Version.Major)
            .OrderByDescending(tfm => Path.GetFileName(tfm), StringComparer.Ordinal)
            .Select(tfm => Path.Combine(tfm, "any", "GarnetServer.dll"))
            .FirstOrDefault(File.Exists);
    }
}
