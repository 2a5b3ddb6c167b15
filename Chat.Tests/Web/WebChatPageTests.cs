using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Chat.Tests.Web;

/// <summary>The gateway's chat page in Chromium, against the whole system, over each of the five transports.</summary>
[Collection(WebChatCollection.Name)]
public sealed class WebChatPageTests(WebChatFixture fixture)
{
    [Theory]
    [InlineData("rest")]
    [InlineData("ndjson")]
    [InlineData("sse")]
    [InlineData("websocket")]
    [InlineData("grpc-web")]
    public async Task TwoMessages_StreamReplies_WithTimings_AndTheSecondReplyReflectsHistory(string transport)
    {
        var page = await fixture.OpenAsync(transport);
        await Expect(page.Locator($"#transport-picker button[data-transport='{transport}']")).ToHaveAttributeAsync("aria-checked", "true");

        await SendAsync(page, $"My favourite transport is {transport}");
        await ExpectPartialThenFinalAsync(page, transport, 1, "Turn 1 of this conversation");
        await SendAsync(page, "Which one was it?");
        var second = await ExpectPartialThenFinalAsync(page, transport, 2, "Turn 2 of this conversation");

        await Expect(second).ToContainTextAsync($"Your first message was: \"My favourite transport is {transport}\"");
        await Expect(second.Locator(".meta .ttft")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^TTFT \d+(\.\d+)? m?s$"));
        await Expect(second.Locator(".meta .tag")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(transport));
        var row = page.Locator($"#comparison tr[data-transport='{transport}']");
        await Expect(row.Locator("td.num").First).ToHaveTextAsync("2");
        await Expect(page.Locator("#session-count")).ToHaveTextAsync("4 messages");
        await page.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot($"web-{transport}.png") }).DefaultTimeout();
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task SwitchingTransportMidSession_KeepsTheSessionAndItsHistory()
    {
        var page = await fixture.OpenAsync("ndjson");
        string[] order = ["ndjson", "grpc-web", "sse", "websocket", "rest"];
        for (var i = 0; i < order.Length; i++)
        {
            await page.Locator($"#transport-picker button[data-transport='{order[i]}']").ClickAsync().DefaultTimeout();
            await SendAsync(page, i == 0 ? "Remember the word lighthouse" : $"Message {i + 1} over {order[i]}");
            var reply = await ExpectPartialThenFinalAsync(page, order[i], i + 1, $"Turn {i + 1} of this conversation");
            if (i > 0)
            {
                await Expect(reply).ToContainTextAsync("Your first message was: \"Remember the word lighthouse\"");
            }
        }

        var sessionId = await page.Locator("#session-id").TextContentAsync().DefaultTimeout();
        Assert.Matches("^[0-9a-f-]{8,}$", sessionId);
        await Expect(page.Locator("#comparison tbody tr[data-transport]")).ToHaveCountAsync(5);
        await Expect(page.Locator("#bars .bar-row")).ToHaveCountAsync(5);
        await Expect(page.Locator("#session-count")).ToHaveTextAsync("10 messages");
        await page.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot("web-comparison.png") }).DefaultTimeout();
        await page.Context.CloseAsync();
    }

    [Theory]
    [InlineData("websocket")]
    [InlineData("grpc-web")]
    public async Task TypingInASecondPage_ShowsTheTypingIndicator(string observerTransport)
    {
        var observer = await fixture.OpenAsync(observerTransport);
        await observer.Locator("#new-session").ClickAsync().DefaultTimeout();
        await Expect(observer.Locator("#session-id")).Not.ToHaveTextAsync("none");
        var sessionId = await observer.Locator("#session-id").TextContentAsync().DefaultTimeout();
        await Expect(observer.Locator("#live")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bon\b"));
        var typist = await fixture.OpenAsync("websocket", sessionId);
        await Expect(typist.Locator("#live")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bon\b"));
        await Expect(observer.Locator("#typing")).ToBeHiddenAsync();

        await typist.Locator("#message").PressSequentiallyAsync("Hello from the other tab").DefaultTimeout();

        await Expect(observer.Locator("#typing")).ToBeVisibleAsync();
        await Expect(typist.Locator("#typing")).ToBeHiddenAsync();
        await observer.ScreenshotAsync(new() { Path = WebChatFixture.Screenshot($"web-typing-{observerTransport}.png") }).DefaultTimeout();
        await typist.Locator("#message").PressAsync("Enter").DefaultTimeout();
        await Expect(typist.Locator(".msg.assistant[data-state='done']")).ToHaveCountAsync(1);
        await Expect(observer.Locator(".msg.note")).ToContainTextAsync("Another tab got a reply (2 messages)");
        await Expect(observer.Locator("#typing")).ToBeHiddenAsync();
        await observer.Context.CloseAsync();
        await typist.Context.CloseAsync();
    }

    private static async Task SendAsync(IPage page, string message)
    {
        await page.Locator("#message").FillAsync(message).DefaultTimeout();
        await page.Locator("#send").ClickAsync().DefaultTimeout();
    }

    /// <summary>
    /// Streaming transports show the reply's first words while it is still streaming (the paced model takes over a
    /// second a reply); REST shows it is waiting for the whole reply. Then the final text, with its timings.
    /// </summary>
    private static async Task<ILocator> ExpectPartialThenFinalAsync(IPage page, string transport, int number, string finalText)
    {
        var reply = page.Locator(".msg.assistant").Nth(number - 1);
        if (transport == "rest")
        {
            await Expect(reply).ToHaveAttributeAsync("data-state", "waiting");
        }
        else
        {
            await Expect(page.Locator(".msg.assistant[data-state='streaming']")).ToContainTextAsync("[offline model]");
            var partial = await reply.Locator(".body").TextContentAsync().DefaultTimeout() ?? "";
            Assert.DoesNotContain("Ask again", partial, StringComparison.Ordinal);
            Assert.DoesNotContain("You just said", partial, StringComparison.Ordinal);
        }

        await Expect(reply).ToHaveAttributeAsync("data-state", "done");
        await Expect(reply.Locator(".body")).ToContainTextAsync(finalText);
        await Expect(reply.Locator(".meta .total")).ToContainTextAsync("total");
        return reply;
    }
}
