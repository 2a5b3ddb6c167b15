using Chat.Gateway.Proxy;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Chat.Tests.Gateway;

public sealed class DestinationFailuresHealthPolicyTests
{
    private readonly RecordingHealthUpdater _updater = new();
    private readonly ClusterState _cluster = new("sse");
    private readonly DestinationState _destination = new("sse[http://127.0.0.1:1/]");
    private readonly DestinationFailuresHealthPolicy _policy;

    public DestinationFailuresHealthPolicyTests() => _policy = new DestinationFailuresHealthPolicy(_updater);

    [Fact]
    public void ConsecutiveDestinationFailures_TakeTheReplicaOutForTheReactivationPeriod()
    {
        Proxied(ForwarderError.Request);
        Proxied(ForwarderError.ResponseBodyDestination);
        Assert.Empty(_updater.Calls);

        Proxied(ForwarderError.RequestTimedOut);

        var call = Assert.Single(_updater.Calls);
        Assert.Equal((_destination, DestinationHealth.Unhealthy, DestinationFailuresHealthPolicy.DefaultReactivationPeriod), call);
    }

    [Theory]
    [InlineData(ForwarderError.RequestCanceled)]
    [InlineData(ForwarderError.RequestBodyClient)]
    [InlineData(ForwarderError.ResponseBodyCanceled)]
    [InlineData(ForwarderError.ResponseBodyClient)]
    [InlineData(ForwarderError.UpgradeResponseClient)]
    [InlineData(ForwarderError.UpgradeActivityTimeout)]
    public void ClientSideEndsOfStreams_NeverCountAgainstTheReplica(ForwarderError error)
    {
        for (var i = 0; i < 20; i++)
        {
            Proxied(error);
        }

        Assert.Empty(_updater.Calls);
    }

    [Fact]
    public void ASuccessInBetween_ResetsTheCount()
    {
        Proxied(ForwarderError.Request);
        Proxied(ForwarderError.Request);
        Proxied(ForwarderError.None);
        Proxied(ForwarderError.Request);
        Proxied(ForwarderError.Request);

        Assert.Empty(_updater.Calls);
    }

    private void Proxied(ForwarderError error)
    {
        var context = new DefaultHttpContext();
        if (error != ForwarderError.None)
        {
            context.Features.Set<IForwarderErrorFeature>(new ErrorFeature(error));
        }

        _policy.RequestProxied(context, _cluster, _destination);
    }

    private sealed record ErrorFeature(ForwarderError Error) : IForwarderErrorFeature
    {
        public Exception? Exception => null;
    }

    private sealed class RecordingHealthUpdater : IDestinationHealthUpdater
    {
        public List<(DestinationState Destination, DestinationHealth Health, TimeSpan Reactivation)> Calls { get; } = [];

        public void SetPassive(ClusterState cluster, DestinationState destination, DestinationHealth newHealth, TimeSpan reactivationPeriod) =>
            Calls.Add((destination, newHealth, reactivationPeriod));

        public void SetActive(ClusterState cluster, IEnumerable<NewActiveDestinationHealth> newHealthStates)
        {
        }
    }
}
