using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Chat.Tests.Web;

/// <summary>
/// The whole graph of Chat.AppHost started once through the testing entry point, with the offline model paced at
/// 40 ms a token so a page shows partial replies; and Debian's Chromium, headless, driven by Playwright.
/// </summary>
public sealed class WebChatFixture : IAsyncLifetime
{
    public const int InterTokenDelayMs = 40;

    public DistributedApplication App { get; private set; } = null!;

    public Uri Gateway { get; private set; } = null!;

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var appHost = await ChatAppHost.CreateAsync([], new Dictionary<string, string?>
        {
            ["Llm:Provider"] = "offline",
            ["Llm:Offline:TimeToFirstTokenMs"] = "100",
            ["Llm:Offline:InterTokenDelayMs"] = InterTokenDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).DefaultTimeout();
        App = await appHost.BuildAsync().DefaultTimeout();
        try
        {
            await App.StartAsync().DefaultTimeout();
            await App.WaitForAllResourcesHealthyAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Gateway = App.GetEndpoint("gateway", "http");
            Playwright = await Microsoft.Playwright.Playwright.CreateAsync().DefaultTimeout();
            Browser = await Playwright.Chromium.LaunchAsync(Browsers.Launch()).DefaultTimeout();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>A fresh browser context (own localStorage) with the chat page open on the given transport.</summary>
    public async Task<IPage> OpenAsync(string transport, string? sessionId = null)
    {
        var context = await Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1440, Height = 860 } }).DefaultTimeout();
        var page = await context.NewPageAsync().DefaultTimeout();
        page.SetDefaultTimeout(15_000);
        var hash = sessionId is null ? $"transport={transport}" : $"session={sessionId}&transport={transport}";
        await page.GotoAsync(new Uri(Gateway, $"/#{hash}").ToString()).DefaultTimeout();
        return page;
    }

    public static string Screenshot(string name) => Path.Combine(Browsers.ScreenshotDirectory, name);

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        Playwright?.Dispose();
        if (App is not null)
        {
            await App.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class WebChatCollection : ICollectionFixture<WebChatFixture>
{
    public const string Name = "web-chat";
}
