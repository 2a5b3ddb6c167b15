using Aspire.Hosting;
using Chat.Tests.Infrastructure;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

/// <summary>
/// The whole graph of Chat.AppHost's Program.cs, started once per collection with Aspire.Hosting.Testing:
/// two replicas of llm and of sse, an offline model without pacing.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public DistributedApplication App { get; private set; } = null!;

    public async Task InitializeAsync() =>
        App = await ChatAppHost.StartAsync(["--replicas", "llm=2,sse=2"], ChatAppHost.FastOfflineModel);

    public async Task DisposeAsync() => await App.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class AppHostCollection : ICollectionFixture<AppHostFixture>
{
    public const string Name = "apphost";
}
