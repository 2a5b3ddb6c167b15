using System.Diagnostics;
using Grpc.Net.Client;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// Clients that put no trace context on the wire. Tests that read the graph's traces use them: while any in-process
/// host of another test has a tracer provider, this process's HttpClient creates a propagation-only activity for each
/// request (the sampler drops a client call with no parent) and sends <c>traceparent: …-00</c>, which the gateway
/// rightly honours as "not sampled" — the whole turn would leave no span.
/// </summary>
public static class Untraced
{
    public static SocketsHttpHandler Handler() => new()
    {
        ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator(),
    };

    public static HttpClient Http(Uri baseAddress) => new(Handler()) { BaseAddress = baseAddress };

    public static GrpcChannel Grpc(Uri address) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = Handler(), DisposeHttpClient = true });
}
