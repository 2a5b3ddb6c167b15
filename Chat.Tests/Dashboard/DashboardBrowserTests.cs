using Chat.Dashboard.Hosting;
using Chat.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Chat.Tests.Dashboard;

/// <summary>Debian's Chromium, headless, driven by Playwright; one dashboard with one seeded chat turn for all pages.</summary>
public sealed class DashboardBrowserFixture : IAsyncLifetime
{
    public DashboardTestHost Host { get; private set; } = null!;

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string TraceId { get; private set; } = "";

    public static string ScreenshotDirectory { get; } = FindScreenshotDirectory();

    public async Task InitializeAsync()
    {
        Host = await DashboardTestHost.StartAsync();
        TraceId = TelemetrySeeder.SendChatTurn(Host.App.OtlpGrpcEndpoint, "browser");
        Host.Resources.WriteConsole("sse-0", "info: Microsoft.Hosting.Lifetime[14] Now listening on: http://127.0.0.1:5201");
        Host.Resources.WriteConsole("sse-0", "info: Microsoft.Hosting.Lifetime[0] Application started. Press Ctrl+C to shut down.");
        Host.Resources.WriteConsole("sse-0", "warn: Chat.Sse.Streams[3] Client went away after 12 events", isError: false);
        Host.Resources.WriteConsole("sse-0", "fail: Chat.Sse.Streams[4] LLM service unavailable (StatusCode=\"Unavailable\")", isError: true);
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync().DefaultTimeout();
        Browser = await Playwright.Chromium.LaunchAsync(Launch()).DefaultTimeout();
    }

    public static BrowserTypeLaunchOptions Launch() => new()
    {
        ExecutablePath = "/usr/bin/chromium",
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
    };

    /// <summary>A page in light or dark colour scheme (the UI follows the browser's preference until toggled).</summary>
    public async Task<IPage> NewPageAsync(bool dark = false)
    {
        var page = await Browser.NewPageAsync(new()
        {
            ViewportSize = new() { Width = 1440, Height = 860 },
            ColorScheme = dark ? ColorScheme.Dark : ColorScheme.Light,
        }).DefaultTimeout();
        page.SetDefaultTimeout(15_000);
        return page;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        Playwright?.Dispose();
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }
    }

    private static string FindScreenshotDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Chat.sln")))
        {
            directory = directory.Parent;
        }

        var path = Path.Combine(directory?.FullName ?? AppContext.BaseDirectory, ".test-artifacts", "screenshots");
        Directory.CreateDirectory(path);
        return path;
    }
}

public sealed class DashboardBrowserTests(DashboardBrowserFixture fixture) : IClassFixture<DashboardBrowserFixture>
{
    [Fact]
    public async Task ResourcesPage_ShowsReplicasWithStateHealthAndEndpoints_AndRestartRunsTheCommand()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(new Uri(fixture.Host.App.UiUrl, "#/resources").ToString()).DefaultTimeout();

        var sse1 = page.Locator("#resources-table tr[data-name='sse-1']");
        await Expect(sse1).ToBeVisibleAsync();
        await Expect(page.Locator("#resources-table tr[data-name]")).ToHaveCountAsync(6);
        await Expect(sse1.Locator("td.state")).ToHaveTextAsync("Running");
        await Expect(sse1).ToContainTextAsync("Unhealthy");
        await Expect(sse1).ToContainTextAsync("4104");
        await Expect(sse1.Locator("a[href='http://127.0.0.1:5202']")).ToBeVisibleAsync();
        await Expect(page.Locator("#resources-table tr[data-name='gateway-0'] td.state")).ToContainTextAsync("exit 134");
        await page.ScreenshotAsync(new() { Path = Path.Combine(DashboardBrowserFixture.ScreenshotDirectory, "resources.png"), FullPage = true }).DefaultTimeout();

        await page.Locator("#resources-table tr[data-name='redis-0'] button[data-command='restart']").ClickAsync().DefaultTimeout();
        await Expect(page.Locator("#resources-table tr[data-name='redis-0'] td.num").Nth(1)).ToHaveTextAsync("1");
        Assert.Contains(("redis-0", "restart"), fixture.Host.Resources.Commands);
        await page.CloseAsync();
    }

    [Fact]
    public async Task TracePage_ShowsWaterfallAcrossServices_AndGenAiDetailsOnClick()
    {
        var page = await fixture.NewPageAsync(dark: true);
        await page.GotoAsync(new Uri(fixture.Host.App.UiUrl, "#/traces").ToString()).DefaultTimeout();
        var row = page.Locator($"#traces-table tr[data-trace='{fixture.TraceId}']");
        await Expect(row).ToContainTextAsync("POST /sse/chat");
        await Expect(row).ToContainTextAsync("gen_ai");
        await Expect(row.Locator("td.num")).ToHaveTextAsync("8");
        await page.ScreenshotAsync(new() { Path = Path.Combine(DashboardBrowserFixture.ScreenshotDirectory, "traces.png") }).DefaultTimeout();

        await row.ClickAsync().DefaultTimeout();
        await Expect(page.Locator(".waterfall-row")).ToHaveCountAsync(8);
        await Expect(page.Locator("#trace-duration")).ToHaveTextAsync("432ms");
        foreach (var service in new[] { "gateway-0", "sse-1", "llm-0" })
        {
            await Expect(page.Locator(".waterfall-row .res", new() { HasTextString = service }).First).ToBeVisibleAsync();
        }

        await page.Locator(".waterfall-row", new() { HasTextString = "chat offline-echo" }).ClickAsync().DefaultTimeout();
        var genAi = page.Locator("#genai-summary");
        await Expect(genAi).ToContainTextAsync("offline-echo");
        await Expect(genAi).ToContainTextAsync("42 / 17");
        await Expect(genAi).ToContainTextAsync("200ms");
        await Expect(page.Locator("#span-details")).ToContainTextAsync("gen_ai.first_token");
        await page.ScreenshotAsync(new() { Path = Path.Combine(DashboardBrowserFixture.ScreenshotDirectory, "trace.png") }).DefaultTimeout();
        await page.CloseAsync();
    }

    [Fact]
    public async Task ConsolePage_ShowsReplicaLines_AndAppendsNewOnesLive()
    {
        var page = await fixture.NewPageAsync(dark: true);
        await page.GotoAsync(new Uri(fixture.Host.App.UiUrl, "#/console/sse-0").ToString()).DefaultTimeout();
        await Expect(page.Locator(".console-line")).ToHaveCountAsync(4);
        await Expect(page.Locator(".console-line.stderr")).ToContainTextAsync("LLM service unavailable");
        await Expect(page.Locator("#console-live")).ToHaveTextAsync("live");

        fixture.Host.Resources.WriteConsole("sse-0", "info: Chat.Sse.Streams[1] Stream 7 opened");
        await Expect(page.Locator(".console-line").Last).ToContainTextAsync("Stream 7 opened");
        await Expect(page.Locator(".console-line")).ToHaveCountAsync(5);
        await page.ScreenshotAsync(new() { Path = Path.Combine(DashboardBrowserFixture.ScreenshotDirectory, "console.png") }).DefaultTimeout();
        await page.CloseAsync();
    }

    [Fact]
    public async Task StructuredLogsPage_FiltersByLevel_AndLinksToTheTrace()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(new Uri(fixture.Host.App.UiUrl, "#/logs").ToString()).DefaultTimeout();
        await Expect(page.Locator("#logs-table tr[data-seq]")).ToHaveCountAsync(4);
        await Expect(page.Locator($"#logs-table a[href='#/traces/{fixture.TraceId}']")).ToHaveCountAsync(2);
        await page.ScreenshotAsync(new() { Path = Path.Combine(DashboardBrowserFixture.ScreenshotDirectory, "logs.png") }).DefaultTimeout();

        await page.Locator("#log-level").SelectOptionAsync("Warning").DefaultTimeout();
        await Expect(page.Locator("#logs-table tr[data-seq]")).ToHaveCountAsync(2);
        await page.Locator("#log-search").FillAsync("refused").DefaultTimeout();
        await Expect(page.Locator("#logs-table tr[data-seq]")).ToHaveCountAsync(1);
        await page.CloseAsync();
    }

    [Fact]
    public async Task MetricsPage_ShowsChatInstrumentsAsCharts()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(new Uri(fixture.Host.App.UiUrl, "#/metrics").ToString()).DefaultTimeout();
        foreach (var name in new[] { "chat.turns", "chat.stream.time_to_first_token", "chat.stream.tokens", "chat.stream.active" })
        {
            await Expect(page.Locator($"#chat-cards .card[data-instrument='{name}'] svg polyline").First).ToBeVisibleAsync();
        }

        await Expect(page.Locator("#chat-cards .card[data-instrument='chat.stream.active'] .legend span")).ToHaveCountAsync(3);
        await page.ScreenshotAsync(new() { Path = Path.Combine(DashboardBrowserFixture.ScreenshotDirectory, "metrics.png"), FullPage = true }).DefaultTimeout();
        await page.CloseAsync();
    }

    [Fact]
    public async Task BrowserToken_WithoutLogin_ShowsLoginRequired_AndLoginUrlOpensTheDashboard()
    {
        await using var host = await DashboardTestHost.StartAsync(options => options.AuthMode = DashboardAuthMode.BrowserToken);
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(host.App.UiUrl.ToString()).DefaultTimeout();
        await Expect(page.Locator("h1")).ToHaveTextAsync("Login required");

        await page.GotoAsync(host.App.LoginUrl!.ToString()).DefaultTimeout();
        await Expect(page.Locator("#resources-table tr[data-name='sse-0']")).ToBeVisibleAsync();
        Assert.Equal(host.App.UiUrl.ToString(), page.Url.Split('#')[0]);
        await page.CloseAsync();
    }
}
