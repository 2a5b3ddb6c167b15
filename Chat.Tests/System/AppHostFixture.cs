extern alias apphost;
using Chat.Hosting;
using Chat.Hosting.Testing;
using Chat.Tests.Infrastructure;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

/// <summary>
/// The whole graph of Chat.AppHost's Program.cs, started once per collection through the testing entry point:
/// two replicas of llm and of sse, an offline model without pacing, fast restarts.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public DistributedApplication App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Program>(
            ["--replicas", "llm=2,sse=2"],
            options => SystemTestSettings.Apply(options)).DefaultTimeout();
        App = await appHost.StartHealthyAsync(TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync() => await App.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class AppHostCollection : ICollectionFixture<AppHostFixture>
{
    public const string Name = "apphost";
}

internal static class SystemTestSettings
{
    /// <summary>The offline model answering immediately: the tests are about the system, not the pacing.</summary>
    public static void Apply(DistributedApplicationOptions options)
    {
        options.Configuration["Llm:Provider"] = "offline";
        options.Configuration["Llm:Offline:TimeToFirstTokenMs"] = "0";
        options.Configuration["Llm:Offline:InterTokenDelayMs"] = "0";
    }
}
