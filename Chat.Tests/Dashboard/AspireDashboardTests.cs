using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;
using Xunit.Abstractions;

namespace Chat.Tests.Dashboard;

/// <summary>
/// The Aspire dashboard itself, in Debian's Chromium: after a chat through the gateway, the Resources page lists every
/// resource of the graph Running, and the chat's trace spans the gateway, the transport and the LLM service.
/// </summary>
public sealed class AspireDashboardTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AfterAChat_ResourcesAreRunning_AndTheChatsTraceSpansGatewayTransportAndLlm()
    {
        await using var app = await ChatAppHost.StartAsync(["--replicas", "sse=2"], ChatAppHost.FastOfflineModel, enableDashboard: true, output: output);
        var dashboard = app.GetEndpoint("aspire-dashboard", "http");

        // A chat through the gateway, in a trace whose id the test chose (W3C traceparent, honoured by the gateway).
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using (var http = Untraced.Http(app.GetEndpoint("gateway", "http")))
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/rest/chat") { Content = JsonContent.Create(new { message = "Trace me" }) })
        {
            request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
            using var response = await http.SendAsync(request).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var playwright = await Playwright.CreateAsync().DefaultTimeout();
        await using var browser = await playwright.Chromium.LaunchAsync(Browsers.Launch()).DefaultTimeout();
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1600, Height = 1000 } }).DefaultTimeout();
        page.SetDefaultTimeout(30_000);

        // No login token asked: the Resources page itself opens.
        await page.GotoAsync(dashboard.ToString()).DefaultTimeout();
        foreach (var resource in new[] { "redis", "llm", "rest", "streaming", "sse", "sse-1", "websocket", "grpc", "gateway" })
        {
            var row = page.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByText(resource, new() { Exact = true }) });
            await Expect(row.First).ToContainTextAsync("Running");
        }

        await page.ScreenshotAsync(new() { Path = Browsers.Screenshot("aspire-dashboard-resources.png") }).DefaultTimeout();

        // The trace arrives over OTLP within the exporters' 1 s batching (the test waits for it, up to 60 s, reloading
        // the detail page); the page then shows every service on it.
        var detail = new Uri(dashboard, $"traces/detail/{traceId}").ToString();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            await page.GotoAsync(detail).DefaultTimeout();
            try
            {
                await Expect(page.GetByText("llm", new() { Exact = true }).First).ToBeVisibleAsync(new() { Timeout = 3_000 });
                break;
            }
            catch (PlaywrightException) when (DateTime.UtcNow < deadline)
            {
            }
            catch (PlaywrightException)
            {
                await page.ScreenshotAsync(new() { Path = Browsers.Screenshot("aspire-dashboard-trace-missing.png") });
                await ScreenshotTraceListAsync(page, dashboard);
                throw;
            }
        }

        foreach (var service in new[] { "gateway", "rest", "llm" })
        {
            await Expect(page.GetByText(service, new() { Exact = true }).First).ToBeVisibleAsync();
        }

        await page.ScreenshotAsync(new() { Path = Browsers.Screenshot("aspire-dashboard-trace.png") }).DefaultTimeout();
    }

    /// <summary>Which traces did arrive: the list page, where a person would look next (best effort).</summary>
    private static async Task ScreenshotTraceListAsync(IPage page, Uri dashboard)
    {
        try
        {
            await page.GotoAsync(new Uri(dashboard, "traces").ToString());
            await page.GetByRole(AriaRole.Grid).First.WaitForAsync(new() { Timeout = 10_000 });
            await page.ScreenshotAsync(new() { Path = Browsers.Screenshot("aspire-dashboard-traces-when-missing.png"), FullPage = true });
        }
        catch (PlaywrightException)
        {
        }
    }
}
