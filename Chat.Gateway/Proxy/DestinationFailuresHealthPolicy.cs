using System.Collections.Concurrent;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Chat.Gateway.Proxy;

/// <summary>
/// Passive health that blames a replica only for its own failures. YARP's TransportFailureRate counts every proxy
/// error, including a client closing its SSE or WebSocket stream, so streaming clients that hang up would take
/// healthy replicas out. Here a replica is out (for the cluster's Passive:ReactivationPeriod) after
/// <see cref="Threshold"/> consecutive failures that are the destination's: cannot connect or send, no response in
/// time, or its side of a body or upgraded stream broke. Any proxied request that did not fail resets the count.
/// </summary>
public sealed class DestinationFailuresHealthPolicy(IDestinationHealthUpdater healthUpdater) : IPassiveHealthCheckPolicy
{
    public const string PolicyName = "DestinationFailures";
    public const int Threshold = 3;
    public static readonly TimeSpan DefaultReactivationPeriod = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<DestinationState, int> _consecutiveFailures = new();

    public string Name => PolicyName;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        var error = context.Features.Get<IForwarderErrorFeature>()?.Error ?? ForwarderError.None;
        if (!IsDestinationFailure(error))
        {
            _consecutiveFailures.TryRemove(destination, out _);
            return;
        }

        var failures = _consecutiveFailures.AddOrUpdate(destination, 1, (_, count) => count + 1);
        if (failures >= Threshold)
        {
            _consecutiveFailures.TryRemove(destination, out _);
            // Model is set once YARP has applied the cluster; a cluster without it gets the default period.
            var reactivation = cluster.Model?.Config.HealthCheck?.Passive?.ReactivationPeriod ?? DefaultReactivationPeriod;
            healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, reactivation);
        }
    }

    public static bool IsDestinationFailure(ForwarderError error) => error is ForwarderError.Request
        or ForwarderError.RequestTimedOut
        or ForwarderError.RequestBodyDestination
        or ForwarderError.ResponseBodyDestination
        or ForwarderError.UpgradeRequestDestination
        or ForwarderError.UpgradeResponseDestination;
}
