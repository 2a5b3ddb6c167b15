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

        // A service's first export goes to a dashboard that has just started; on a loaded box that call can outlast the
        // exporter's 10 s timeout, and the exporter drops the batch (no retry by default). So a warm-up chat first,
        // until the dashboard shows one, then the chat whose trace is checked.
        var warm = false;
        for (var attempt = 0; attempt < 3 && !warm; attempt++)
        {
            warm = await TraceShownAsync(page, dashboard, await ChatInATraceAsync(app, "Warm up"), TimeSpan.FromSeconds(30));
        }

        Assert.True(warm, "the dashboard showed the trace of none of three warm-up chats");

        // A chat through the gateway, in a trace whose id the test chose (W3C traceparent, honoured by the gateway). It
        // arrives over OTLP within the exporters' 1 s batching; the test waits up to 60 s, reloading the detail page.
        var traceId = await ChatInATraceAsync(app, "Trace me");
        if (!await TraceShownAsync(page, dashboard, traceId, TimeSpan.FromSeconds(60)))
        {
            await page.ScreenshotAsync(new() { Path = Browsers.Screenshot("aspire-dashboard-trace-missing.png") });
            await ScreenshotTraceListAsync(page, dashboard);
            Assert.Fail($"trace {traceId} not in the dashboard within 60 s (screenshots in .test-artifacts/screenshots)");
        }

        foreach (var service in new[] { "gateway", "rest", "llm" })
        {
            await Expect(page.GetByText(service, new() { Exact = true }).First).ToBeVisibleAsync();
        }

        await page.ScreenshotAsync(new() { Path = Browsers.Screenshot("aspire-dashboard-trace.png") }).DefaultTimeout();
    }

    /// <summary>One REST chat through the gateway in a new trace, sampled; returns the trace id.</summary>
    private static async Task<string> ChatInATraceAsync(Aspire.Hosting.DistributedApplication app, string message)
    {
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var http = Untraced.Http(app.GetEndpoint("gateway", "http"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/rest/chat") { Content = JsonContent.Create(new { message }) };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        using var response = await http.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return traceId;
    }

    /// <summary>Whether the trace's detail page shows the LLM service's spans within <paramref name="within"/>.</summary>
    private static async Task<bool> TraceShownAsync(IPage page, Uri dashboard, string traceId, TimeSpan within)
    {
        var detail = new Uri(dashboard, $"traces/detail/{traceId}").ToString();
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            await page.GotoAsync(detail).DefaultTimeout();
            try
            {
                await Expect(page.GetByText("llm", new() { Exact = true }).First).ToBeVisibleAsync(new() { Timeout = 3_000 });
                return true;
            }
            catch (PlaywrightException) when (DateTime.UtcNow < deadline)
            {
            }
            catch (PlaywrightException)
            {
                return false;
            }
        }
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
