using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Chat.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;
using Xunit.Abstractions;

namespace Chat.Tests.Web;

/// <summary>
/// The gateway's chat page (the built ClientApp) in Chromium against the whole system, over each of the five
/// transports, at desktop (1440×900) and phone (375×812, 360 px) sizes.
/// </summary>
[Collection(WebChatCollection.Name)]
public sealed partial class WebChatPageTests(WebChatFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    public static readonly string[] AllTransports = ["rest", "ndjson", "sse", "websocket", "grpc-web"];

    public static TheoryData<string, string> TransportsAtBothSizes()
    {
        var data = new TheoryData<string, string>();
        foreach (var size in new[] { "desktop", "phone" })
        {
            foreach (var transport in AllTransports)
            {
                data.Add(transport, size);
            }
        }

        return data;
    }

    public static TheoryData<string> Transports() => new(AllTransports);

    [Theory]
    [MemberData(nameof(TransportsAtBothSizes))]
    public async Task TwoMessages_StreamReplies_WithTimings_AndTheSecondReplyReflectsHistory(string transport, string size)
    {
        var page = await fixture.OpenAsync(transport, viewport: Viewport.Named(size));
        await Expect(page.Locator($"#transport-picker button[data-transport='{transport}']")).ToHaveAttributeAsync("aria-checked", "true");
        await Expect(page.Locator("#empty")).ToBeVisibleAsync();

        await SendAsync(page, $"My favourite transport is {transport}");
        await ExpectStreamedThenFinalAsync(page, transport, 1, "Turn 1 of this conversation");
        await Expect(page.Locator("#empty")).ToBeHiddenAsync();
        await SendAsync(page, "Which one was it?");
        var second = await ExpectStreamedThenFinalAsync(page, transport, 2, "Turn 2 of this conversation");

        await Expect(second).ToContainTextAsync($"Your first message was: \"My favourite transport is {transport}\"");
        await Expect(second.Locator(".meta .ttft")).ToHaveTextAsync(TimingPattern());
        await Expect(second.Locator(".meta .tag")).ToHaveClassAsync(new Regex(Regex.Escape(transport)));
        var row = page.Locator($"#comparison tr[data-transport='{transport}']");
        await Expect(row.Locator("td.num").First).ToHaveTextAsync("2");
        await Expect(page.Locator("#session-count")).ToHaveTextAsync("4 messages");
        await Expect(page.Locator("#session-name")).ToHaveTextAsync($"My favourite transport is {transport}");
        await NoHorizontalScrollAsync(page);
        await page.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot($"web-{transport}-{size}.png") }).DefaultTimeout();
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task SwitchingTransportMidSession_KeepsTheSessionAndItsHistory()
    {
        var page = await fixture.OpenAsync("ndjson");
        string[] order = ["ndjson", "grpc-web", "sse", "websocket", "rest"];
        for (var i = 0; i < order.Length; i++)
        {
            await SelectTransportAsync(page, order[i]);
            await SendAsync(page, i == 0 ? "Remember the word lighthouse" : $"Message {i + 1} over {order[i]}");
            var reply = await ExpectStreamedThenFinalAsync(page, order[i], i + 1, $"Turn {i + 1} of this conversation");
            if (i > 0)
            {
                await Expect(reply).ToContainTextAsync("Your first message was: \"Remember the word lighthouse\"");
            }
        }

        var sessionId = await page.Locator("#session-id").TextContentAsync().DefaultTimeout();
        Assert.Matches("^[0-9a-f-]{36}$", sessionId);
        await Expect(page.Locator("#comparison tbody tr[data-transport]")).ToHaveCountAsync(5);
        await Expect(page.Locator("#bars .bar-row")).ToHaveCountAsync(5);
        await Expect(page.Locator("#session-count")).ToHaveTextAsync("10 messages");
        await page.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot("web-comparison.png") }).DefaultTimeout();
        await page.Context.CloseAsync();
    }

    [Theory]
    [InlineData("sse", "desktop")]
    [InlineData("grpc-web", "phone")]
    public async Task ASessionStartedOverHttp_OpensWithItsHistory_AndContinuesIt(string transport, string size)
    {
        var first = $"Started with curl {Guid.NewGuid():N}";
        var sessionId = await ChatOverHttpAsync(null, first);
        await ChatOverHttpAsync(sessionId, "A second message, also from curl");

        var page = await fixture.OpenAsync(transport, sessionId, Viewport.Named(size));

        var messages = page.Locator("#messages .msg");
        await Expect(messages).ToHaveCountAsync(4);
        await Expect(messages.Nth(0)).ToHaveClassAsync(new Regex(@"\buser\b"));
        await Expect(messages.Nth(0)).ToHaveTextAsync(first);
        await Expect(messages.Nth(1)).ToHaveClassAsync(new Regex(@"\bassistant\b"));
        await Expect(messages.Nth(1)).ToContainTextAsync($"You said: \"{first}\"");
        await Expect(messages.Nth(2)).ToHaveTextAsync("A second message, also from curl");
        await Expect(messages.Nth(3)).ToContainTextAsync("Turn 2 of this conversation");
        await Expect(page.Locator("#empty")).ToBeHiddenAsync();
        await Expect(page.Locator("#session-name")).ToHaveTextAsync(first);
        await Expect(page.Locator("#session-count")).ToHaveTextAsync("4 messages");

        await SendAsync(page, "And one from the browser");
        var reply = await ExpectStreamedThenFinalAsync(page, transport, 3, "Turn 3 of this conversation");
        await Expect(reply).ToContainTextAsync($"Your first message was: \"{first}\"");
        await Expect(page.Locator("#session-id")).ToHaveTextAsync(sessionId);
        await page.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot($"web-history-{size}.png") }).DefaultTimeout();
        await page.Context.CloseAsync();
    }

    [Theory]
    [InlineData("desktop")]
    [InlineData("phone")]
    public async Task SessionList_ShowsTitlesAndRelativeTimes_AndOpensASessionWithItsHistory(string size)
    {
        var sessionId = await ChatOverHttpAsync(null, $"Plan a three-day trip to Lisbon with tiles, bakeries and trams {Guid.NewGuid():N}");
        var empty = await NewSessionOverHttpAsync();
        var page = await fixture.OpenAsync("websocket", viewport: Viewport.Named(size));

        await OpenSessionsAsync(page);
        var item = page.Locator($"#session-list li[data-session='{sessionId}']");
        await Expect(item.Locator(".title")).ToHaveTextAsync("Plan a three-day trip to Lisbon with tiles, bakeries and…");
        await Expect(item.Locator(".when")).ToHaveTextAsync(new Regex("^(just now|1 min ago)$"));
        await Expect(item.Locator(".count")).ToHaveTextAsync("2");
        await Expect(page.Locator($"#session-list li[data-session='{empty}'] .title")).ToHaveTextAsync("No messages yet");
        Assert.DoesNotContain(sessionId, await item.InnerTextAsync().DefaultTimeout(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot($"web-sessions-{size}.png") }).DefaultTimeout();

        await item.ClickAsync().DefaultTimeout();

        await Expect(page.Locator("#session-id")).ToHaveTextAsync(sessionId);
        await Expect(page.Locator("#messages .msg")).ToHaveCountAsync(2);
        await Expect(page.Locator("#messages .msg.assistant")).ToContainTextAsync("Turn 1 of this conversation");
        await page.Context.CloseAsync();
    }

    /// <summary>At phone sizes every control is on screen or one tap away, and each works when tapped.</summary>
    [Theory]
    [InlineData("phone")]
    [InlineData("phone360")]
    public async Task EveryControl_IsReachable_AtPhoneSize(string size)
    {
        var viewport = Viewport.Named(size);
        var page = await fixture.OpenAsync("ndjson", viewport: viewport);
        await NoHorizontalScrollAsync(page);

        // The header and the composer: on screen as they are.
        foreach (var id in new[] { "#sessions-toggle", "#transport-toggle", "#stats-toggle", "#more-toggle", "#live", "#message", "#send" })
        {
            await ExpectOnScreenAsync(page, id, viewport);
        }

        // The controls that collapsed on a phone are hidden until their toggle is tapped.
        foreach (var id in new[] { "#new-session", "#transport-picker", "#comparison", "#clear-session" })
        {
            await Expect(page.Locator(id)).ToBeHiddenAsync();
        }

        // Sessions drawer: new session, refresh, close.
        await page.Locator("#sessions-toggle").ClickAsync().DefaultTimeout();
        await ExpectOnScreenAsync(page, "#new-session", viewport);
        await page.Locator("#new-session").ClickAsync().DefaultTimeout();
        await Expect(page.Locator("#session-id")).ToHaveTextAsync(GuidPattern());
        await Expect(page.Locator("#new-session")).ToBeHiddenAsync();
        await page.Locator("#sessions-toggle").ClickAsync().DefaultTimeout();
        await ExpectOnScreenAsync(page, "#refresh-sessions", viewport);
        await page.Locator("#refresh-sessions").ClickAsync().DefaultTimeout();
        var sessionId = await page.Locator("#session-id").TextContentAsync().DefaultTimeout();
        await Expect(page.Locator($"#session-list li[data-session='{sessionId}']")).ToBeVisibleAsync();
        await ExpectOnScreenAsync(page, "#sessions-close", viewport);
        await page.Locator("#sessions-close").ClickAsync().DefaultTimeout();
        await Expect(page.Locator("#session-list")).ToBeHiddenAsync();

        // Transport menu: all five on screen, each selectable.
        foreach (var transport in AllTransports)
        {
            await page.Locator("#transport-toggle").ClickAsync().DefaultTimeout();
            foreach (var other in AllTransports)
            {
                await ExpectOnScreenAsync(page, $"#transport-picker button[data-transport='{other}']", viewport);
            }

            if (transport == "sse")
            {
                await page.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot($"web-{size}-transports.png") }).DefaultTimeout();
            }

            await page.Locator($"#transport-picker button[data-transport='{transport}']").ClickAsync().DefaultTimeout();
            await Expect(page.Locator("#transport-picker")).ToBeHiddenAsync();
            await Expect(page.Locator("#transport-current")).ToHaveTextAsync(Label(transport));
        }

        // A message, so the comparison has a row; then the comparison sheet.
        await SendAsync(page, "Hello from a phone");
        await ExpectStreamedThenFinalAsync(page, "grpc-web", 1, "Turn 1 of this conversation");
        await page.Locator("#stats-toggle").ClickAsync().DefaultTimeout();
        await ExpectOnScreenAsync(page, "#comparison tr[data-transport='grpc-web']", viewport);
        await ExpectOnScreenAsync(page, "#stats-close", viewport);
        await page.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot($"web-{size}-comparison.png") }).DefaultTimeout();
        await page.Locator("#stats-close").ClickAsync().DefaultTimeout();
        await Expect(page.Locator("#comparison")).ToBeHiddenAsync();

        // Session actions: clear, then delete.
        await page.Locator("#more-toggle").ClickAsync().DefaultTimeout();
        await ExpectOnScreenAsync(page, "#clear-session", viewport);
        await page.Locator("#clear-session").ClickAsync().DefaultTimeout();
        await Expect(page.Locator("#messages .msg")).ToHaveCountAsync(0);
        await Expect(page.Locator("#empty")).ToBeVisibleAsync();
        await page.Locator("#more-toggle").ClickAsync().DefaultTimeout();
        await ExpectOnScreenAsync(page, "#delete-session", viewport);
        await page.Locator("#delete-session").ClickAsync().DefaultTimeout();
        await Expect(page.Locator("#session-id")).ToHaveTextAsync("none");
        using var client = fixture.CreateGatewayClient();
        using var gone = await client.GetAsync($"/rest/sessions/{sessionId}").DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);

        await NoHorizontalScrollAsync(page);
        await page.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot($"web-{size}.png") }).DefaultTimeout();
        await page.Context.CloseAsync();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task MessageToASessionTheServerDoesNotKnow_StartsANewOne_AndThePageSaysSo(string transport)
    {
        var unknown = Guid.NewGuid().ToString();
        var page = await fixture.OpenAsync(transport, unknown);
        await Expect(page.Locator(".msg.notice")).ToHaveTextAsync($"Session {unknown} not found; your next message starts a new one.");

        await SendAsync(page, "Hello, anyone there?");
        var reply = await ExpectStreamedThenFinalAsync(page, transport, 1, "Turn 1 of this conversation");

        var notice = page.Locator(".msg.notice", new() { HasText = "started a new one" });
        await Expect(notice).ToContainTextAsync($"Session {unknown} not found; started a new one (");
        await Expect(page.Locator("#session-id")).Not.ToHaveTextAsync(unknown);
        await Expect(page.Locator("#session-id")).ToHaveTextAsync(GuidPattern());
        var created = await page.Locator("#session-id").TextContentAsync().DefaultTimeout();
        await Expect(notice).ToContainTextAsync(created!);
        Assert.Contains($"session={created}", page.Url, StringComparison.Ordinal);
        await Expect(reply).ToContainTextAsync("You said: \"Hello, anyone there?\"");
        using var client = fixture.CreateGatewayClient();
        var history = await client.GetFromJsonAsync<JsonElement>($"/rest/sessions/{created}/history").DefaultTimeout();
        Assert.Equal(2, history.GetProperty("total").GetInt32());
        using var stillUnknown = await client.GetAsync($"/rest/sessions/{unknown}").DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, stillUnknown.StatusCode);
        await page.Context.CloseAsync();
    }

    [Theory]
    [InlineData("websocket")]
    [InlineData("grpc-web")]
    public async Task TypingInASecondPage_ShowsTheTypingIndicator_AndItsReplyAppears(string observerTransport)
    {
        var observer = await fixture.OpenAsync(observerTransport);
        await observer.Locator("#new-session").ClickAsync().DefaultTimeout();
        await Expect(observer.Locator("#session-id")).ToHaveTextAsync(GuidPattern());
        var sessionId = await observer.Locator("#session-id").TextContentAsync().DefaultTimeout();
        await Expect(observer.Locator("#live")).ToHaveClassAsync(new Regex(@"\bon\b"));
        var typist = await fixture.OpenAsync("websocket", sessionId);
        await Expect(typist.Locator("#live")).ToHaveClassAsync(new Regex(@"\bon\b"));
        await Expect(observer.Locator("#typing")).ToBeHiddenAsync();

        await typist.Locator("#message").PressSequentiallyAsync("Hello from the other tab").DefaultTimeout();

        await Expect(observer.Locator("#typing")).ToBeVisibleAsync();
        await Expect(typist.Locator("#typing")).ToBeHiddenAsync();
        await observer.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot($"web-typing-{observerTransport}.png") }).DefaultTimeout();
        await typist.Locator("#message").PressAsync("Enter").DefaultTimeout();
        await Expect(typist.Locator(".msg.assistant[data-state='done']")).ToHaveCountAsync(1);
        await Expect(observer.Locator(".msg.note")).ToContainTextAsync("Another tab got a reply (2 messages)");
        await Expect(observer.Locator("#typing")).ToBeHiddenAsync();
        // The other tab's conversation, as the server stored it, now shows in this one.
        await Expect(observer.Locator("#messages .msg.user")).ToHaveTextAsync("Hello from the other tab");
        await Expect(observer.Locator("#messages .msg.assistant")).ToContainTextAsync("Turn 1 of this conversation");
        await observer.Context.CloseAsync();
        await typist.Context.CloseAsync();
    }

    private static async Task SendAsync(IPage page, string message)
    {
        // The renders of the previous reply are done with: record this one's alone.
        await page.EvaluateAsync("() => { window.__replies.length = 0; }").DefaultTimeout();
        await page.Locator("#message").FillAsync(message).DefaultTimeout();
        await page.Locator("#send").ClickAsync().DefaultTimeout();
    }

    /// <summary>
    /// Waits for reply <paramref name="number"/> to be done, then checks how it got there from the page's own record of
    /// every render (not by polling, which a fast reply on a busy machine can outrun): a streaming transport showed the
    /// reply's first words while it still streamed, in several steps; REST showed it was waiting, then the whole reply.
    /// </summary>
    private static async Task<ILocator> ExpectStreamedThenFinalAsync(IPage page, string transport, int number, string finalText)
    {
        var reply = page.Locator("#messages .msg.assistant").Nth(number - 1);
        await Expect(reply).ToHaveAttributeAsync("data-state", "done");
        await Expect(reply.Locator(".body")).ToContainTextAsync(finalText);
        await Expect(reply.Locator(".meta .total")).ToHaveTextAsync(new Regex(@"^total \d+(\.\d+)? m?s$"));

        var renders = (await page.EvaluateAsync<JsonElement>("() => window.__replies").DefaultTimeout()).EnumerateArray()
            .Select(r => (State: r.GetProperty("state").GetString(), Transport: r.GetProperty("transport").GetString(), Text: r.GetProperty("text").GetString() ?? ""))
            .ToList();
        Assert.All(renders, r => Assert.Equal(transport, r.Transport));
        Assert.Equal("done", renders[^1].State);
        Assert.Contains(finalText, renders[^1].Text, StringComparison.Ordinal);
        if (transport == "rest")
        {
            Assert.Equal(("waiting", ""), (renders[0].State, renders[0].Text));
            Assert.DoesNotContain(renders, r => r.State == "streaming");
        }
        else
        {
            var partial = renders.Where(r => r.State == "streaming" && r.Text.Length > 0).ToList();
            Assert.True(partial.Count >= 2, $"{transport}: the reply arrived in {partial.Count} piece(s)");
            Assert.StartsWith("[offline", partial[0].Text, StringComparison.Ordinal);
            Assert.DoesNotContain("Ask again", partial[0].Text, StringComparison.Ordinal);
            Assert.DoesNotContain("You just said", partial[0].Text, StringComparison.Ordinal);
            Assert.True(partial.Zip(partial.Skip(1)).All(p => p.Second.Text.Length >= p.First.Text.Length), "the text only grows");
        }

        return reply;
    }

    /// <summary>Picks a transport: the segmented control on a desktop, through the menu where it collapsed.</summary>
    private static async Task SelectTransportAsync(IPage page, string transport)
    {
        var toggle = page.Locator("#transport-toggle");
        if (await toggle.IsVisibleAsync().DefaultTimeout())
        {
            await toggle.ClickAsync().DefaultTimeout();
        }

        await page.Locator($"#transport-picker button[data-transport='{transport}']").ClickAsync().DefaultTimeout();
        await Expect(page.Locator($"#transport-picker button[data-transport='{transport}']")).ToHaveAttributeAsync("aria-checked", "true");
    }

    private static async Task OpenSessionsAsync(IPage page)
    {
        var toggle = page.Locator("#sessions-toggle");
        if (await toggle.IsVisibleAsync().DefaultTimeout())
        {
            await toggle.ClickAsync().DefaultTimeout();
        }

        await Expect(page.Locator("#session-list")).ToBeVisibleAsync();
    }

    private static async Task ExpectOnScreenAsync(IPage page, string selector, Viewport viewport)
    {
        var locator = page.Locator(selector);
        await Expect(locator).ToBeVisibleAsync();
        // A sheet slides in: measure where it ends, not where it is on the way (the endless animations — the
        // streaming cursor, the typing dots — are not waited for).
        await page.EvaluateAsync("""
            () => Promise.all(document.getAnimations()
              .filter((a) => a.effect?.getComputedTiming().iterations !== Infinity)
              .map((a) => a.finished.catch(() => {})))
            """).DefaultTimeout();
        var box = await locator.BoundingBoxAsync().DefaultTimeout();
        Assert.NotNull(box);
        Assert.True(box.X >= 0 && box.Y >= 0 && box.X + box.Width <= viewport.Width + 0.5 && box.Y + box.Height <= viewport.Height + 0.5,
            $"{selector} at ({box.X}, {box.Y}) {box.Width}×{box.Height} is not inside {viewport.Width}×{viewport.Height}");
    }

    private static async Task NoHorizontalScrollAsync(IPage page)
    {
        var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth").DefaultTimeout();
        Assert.True(overflow <= 0, $"the page scrolls sideways by {overflow} px");
    }

    private async Task<string> ChatOverHttpAsync(string? sessionId, string message)
    {
        using var client = fixture.CreateGatewayClient();
        using var response = await client.PostAsJsonAsync("/rest/chat", new { message, session_id = sessionId }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>().DefaultTimeout()).GetProperty("session_id").GetString()!;
    }

    private async Task<string> NewSessionOverHttpAsync()
    {
        using var client = fixture.CreateGatewayClient();
        using var response = await client.PostAsJsonAsync("/rest/sessions/new", new { }).DefaultTimeout();
        return (await response.Content.ReadFromJsonAsync<JsonElement>().DefaultTimeout()).GetProperty("session_id").GetString()!;
    }

    private static string Label(string transport) => transport switch
    {
        "rest" => "REST",
        "ndjson" => "NDJSON",
        "sse" => "SSE",
        "websocket" => "WebSocket",
        _ => "gRPC-Web",
    };

    [GeneratedRegex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    private static partial Regex GuidPattern();

    [GeneratedRegex(@"^TTFT \d+(\.\d+)? m?s$")]
    private static partial Regex TimingPattern();
}
