using System.Net;

namespace Chat.Hosting.Orchestration;

/// <summary>Where every replica listens and which Redis is used: decided once at start, kept across restarts.</summary>
internal sealed class Topology(Dictionary<(Resource, int), Dictionary<string, IPEndPoint>> ports, Dictionary<Resource, RedisPlan> redisPlans)
{
    public RedisPlan RedisPlanOf(Resource redis) => redisPlans[redis];

    public Dictionary<string, Uri> EndpointsOf(Resource resource, int index)
    {
        if (resource is RedisResource && redisPlans[resource].Kind == RedisServerKind.External)
        {
            var host = redisPlans[resource].ConnectionString.Split(',')[0];
            return new() { ["tcp"] = new Uri($"redis://{host}") };
        }

        return ports[(resource, index)].ToDictionary(
            e => e.Key,
            e => new Uri(resource is RedisResource ? $"redis://127.0.0.1:{e.Value.Port}" : $"http://127.0.0.1:{e.Value.Port}"));
    }

    /// <summary>The process to run; null for an external resource (only watched, never started).</summary>
    public ProcessLaunch? LaunchOf(Resource resource) => resource switch
    {
        ProjectResource project => new ProcessLaunch(DotnetHost.Path, [project.Project.OutputAssembly()], project.Project.OutputDirectory()),
        RedisResource => redisPlans[resource].Launch,
        ExecutableResource executable => new ProcessLaunch(executable.Command, executable.Args, executable.WorkingDirectory),
        _ => null,
    };

    public IHealthProbe ProbeOf(Resource resource, int index)
    {
        if (resource is RedisResource)
        {
            var plan = redisPlans[resource];
            return plan.Kind == RedisServerKind.External
                ? new RedisConnectionProbe(plan.ConnectionString)
                : new RedisPingProbe(ports[(resource, index)]["tcp"].Port);
        }

        if (resource.HealthCheckPath is null)
        {
            return new AlwaysHealthy();
        }

        var endpoint = resource.Endpoints[0];
        var port = ports[(resource, index)][endpoint.Name].Port;
        return new HttpHealthProbe(new Uri($"http://127.0.0.1:{port}{resource.HealthCheckPath}"), endpoint.IsHttp2);
    }
}
