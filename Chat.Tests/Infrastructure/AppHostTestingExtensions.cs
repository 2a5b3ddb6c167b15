using Chat.Hosting;
using Chat.Hosting.Testing;

namespace Chat.Tests.Infrastructure;

public static class AppHostTestingExtensions
{
    /// <summary>
    /// Builds and starts the graph and waits until every resource is healthy; a graph that fails on the way is stopped
    /// before the failure propagates, so no process outlives the test.
    /// </summary>
    public static async Task<DistributedApplication> StartHealthyAsync(this DistributedApplicationTestingBuilder appHost, TimeSpan healthyWithin)
    {
        var app = await appHost.BuildAsync().DefaultTimeout();
        try
        {
            await app.StartAsync().DefaultTimeout();
            await app.WaitForAllResourcesHealthyAsync().WaitAsync(healthyWithin);
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }
}
