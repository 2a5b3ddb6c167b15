using Aspire.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// A test against a graph shared by its collection: what the services wrote to their consoles while this test ran goes
/// to the test's output, which the test runner shows for a failing test only.
/// </summary>
public abstract class GraphTest : IDisposable
{
    private readonly IReadOnlyDictionary<string, int> _mark;

    protected GraphTest(DistributedApplication app, ITestOutputHelper output)
    {
        App = app;
        Output = output;
        _mark = States.Mark();
    }

    protected DistributedApplication App { get; }

    protected ITestOutputHelper Output { get; }

    private ResourceStates States => App.Services.GetRequiredService<ResourceStates>();

    public void Dispose()
    {
        ResourceStates.WriteTo(Output, States.LinesSince(_mark, maxLines: 80), "while this test ran; whole logs under .test-artifacts/logs");
        GC.SuppressFinalize(this);
    }
}
