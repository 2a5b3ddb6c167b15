using System.Diagnostics;
using System.Text.Json;

namespace Chat.Hosting.Orchestration;

/// <summary>The Redis the application will use, decided at start.</summary>
/// <param name="ConnectionString">StackExchange.Redis syntax, injected as ConnectionStrings__&lt;name&gt;.</param>
/// <param name="Launch">The process to run; null for an external server.</param>
internal sealed record RedisPlan(RedisServerKind Kind, string ConnectionString, ProcessLaunch? Launch, string? DataDirectory);

/// <summary>
/// ConnectionStrings:&lt;name&gt; when configured (an external server, nothing started); otherwise redis-server when
/// installed; otherwise Garnet, the .NET Redis-compatible server pinned in the repository's dotnet tool manifest, so
/// `dotnet run --project Chat.AppHost` needs nothing but the .NET SDK. Redis:Server forces one of the two.
/// </summary>
internal static class RedisServerResolver
{
    private static readonly string[] s_redisServerLocations = ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"];

    public static async Task<RedisPlan> ResolveAsync(RedisResource resource, int port, RedisSettings settings, string? externalConnectionString, string repositoryRoot, CancellationToken cancellationToken)
    {
        if (externalConnectionString is { Length: > 0 })
        {
            return new RedisPlan(RedisServerKind.External, externalConnectionString, Launch: null, DataDirectory: null);
        }

        var connectionString = $"127.0.0.1:{port}";
        var server = settings.Server.ToLowerInvariant();
        if (server is not ("auto" or "redis-server" or "redis" or "garnet"))
        {
            throw new DistributedApplicationException($"Redis:Server is '{settings.Server}': expected auto, redis-server or garnet.");
        }

        var redisServer = server is "garnet" ? null : FindRedisServer();
        if (redisServer is not null)
        {
            var data = DataDirectory(settings, repositoryRoot, resource.Name);
            return new RedisPlan(RedisServerKind.RedisServer, connectionString, new ProcessLaunch(redisServer, RedisServerArguments(port, data), data), data);
        }

        if (server is "redis-server" or "redis")
        {
            throw new DistributedApplicationException(
                "Redis:Server is redis-server but no redis-server is installed (looked on PATH and in /usr/bin, /usr/local/bin): install it (apt-get install redis-server), "
                + "use --Redis:Server=garnet, or give an existing server with --ConnectionStrings:redis=host:port.");
        }

        var garnet = await FindGarnetAsync(repositoryRoot, cancellationToken);
        var garnetData = DataDirectory(settings, repositoryRoot, "garnet");
        return new RedisPlan(RedisServerKind.Garnet, connectionString,
            new ProcessLaunch(DotnetHost.Path, [garnet, .. GarnetArguments(port, garnetData)], garnetData), garnetData);
    }

    /// <summary>Append-only file plus the default snapshots: data survives restarts of the AppHost.</summary>
    public static IReadOnlyList<string> RedisServerArguments(int port, string dataDirectory) =>
    [
        "--port", Invariant(port), "--bind", "127.0.0.1", "--protected-mode", "no", "--daemonize", "no",
        "--dir", dataDirectory, "--appendonly", "yes", "--appendfsync", "everysec", "--loglevel", "notice",
    ];

    /// <summary>
    /// Garnet rejects Redis's --save; its persistence is a checkpoint directory plus an append-only log replayed by
    /// --recover. --lua turns on EVAL; memory sizes stay small (the defaults reserve gigabytes). The RandomAccess
    /// device avoids Garnet's native Linux device, which needs libaio and crashes the server on its first write without it.
    /// </summary>
    public static IReadOnlyList<string> GarnetArguments(int port, string dataDirectory) =>
    [
        "--port", Invariant(port), "--bind", "127.0.0.1",
        "--checkpointdir", dataDirectory, "--recover", "--aof", "--lua",
        "--memory", "256m", "--index", "32m", "--device-type", "RandomAccess", "--logger-level", "Information",
    ];

    public static string? FindRedisServer()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "redis-server"));
        return onPath.Concat(s_redisServerLocations).FirstOrDefault(File.Exists);
    }

    /// <summary>GarnetServer.dll of the version in dotnet-tools.json, restoring the tool first if it is not there yet.</summary>
    public static async Task<string> FindGarnetAsync(string repositoryRoot, CancellationToken cancellationToken)
    {
        var manifest = Path.Combine(repositoryRoot, "dotnet-tools.json");
        if (!File.Exists(manifest))
        {
            manifest = Path.Combine(repositoryRoot, ".config", "dotnet-tools.json");
        }

        string? version = null;
        if (File.Exists(manifest))
        {
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(manifest, cancellationToken));
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
            await RestoreToolsAsync(repositoryRoot, cancellationToken);
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
            .Where(tfm => int.TryParse(Path.GetFileName(tfm).AsSpan(3).ToString().Split('.')[0], out var major) && major <= Environment.Version.Major)
            .OrderByDescending(tfm => Path.GetFileName(tfm), StringComparer.Ordinal)
            .Select(tfm => Path.Combine(tfm, "any", "GarnetServer.dll"))
            .FirstOrDefault(File.Exists);
    }

    private static async Task RestoreToolsAsync(string repositoryRoot, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(DotnetHost.Path, "tool restore")
        {
            WorkingDirectory = repositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var restore = Process.Start(start)!;
        var output = restore.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = restore.StandardError.ReadToEndAsync(cancellationToken);
        await restore.WaitForExitAsync(cancellationToken);
        await Task.WhenAll(output, errors);
    }

    private static string DataDirectory(RedisSettings settings, string repositoryRoot, string name)
    {
        var directory = settings.DataDirectory ?? Path.Combine(repositoryRoot, ".data", name);
        Directory.CreateDirectory(directory);
        return Path.GetFullPath(directory);
    }

    private static string Invariant(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>The dotnet host that runs the projects: the one running us, else the one on PATH.</summary>
internal static class DotnetHost
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
        {
            return hostPath;
        }

        if (Environment.ProcessPath is { } self && System.IO.Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => System.IO.Path.Combine(directory, "dotnet"));
        return candidates.FirstOrDefault(File.Exists) ?? "dotnet";
    }
}
