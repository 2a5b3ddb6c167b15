using System.Net.Http.Json;
using System.Text.Json;
using Chat.Dashboard.Hosting;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Dashboard;

/// <summary>A real dashboard on free loopback ports, over the in-memory resource test data.</summary>
public sealed class DashboardTestHost : IAsyncDisposable
{
    private DashboardTestHost(DashboardApp app, InMemoryResourceSource resources)
    {
        App = app;
        Resources = resources;
        Http = new HttpClient { BaseAddress = app.UiUrl, Timeout = Infrastructure.TaskExtensions.DefaultTimeoutSpan };
    }

    public DashboardApp App { get; }

    public InMemoryResourceSource Resources { get; }

    public HttpClient Http { get; }

    public static async Task<DashboardTestHost> StartAsync(Action<DashboardOptions>? configure = null)
    {
        var options = new DashboardOptions { UiPort = 0, OtlpGrpcPort = 0, OtlpHttpPort = 0 };
        configure?.Invoke(options);
        var resources = new InMemoryResourceSource();
        var app = await DashboardHost.StartAsync(options, resources, Infrastructure.TaskExtensions.DefaultTimeoutToken(), logging => { }).DefaultTimeout();
        return new DashboardTestHost(app, resources);
    }

    public Task<JsonElement> GetJsonAsync(string path) => Http.GetFromJsonAsync<JsonElement>(path).DefaultTimeout();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.DisposeAsync();
    }
}
