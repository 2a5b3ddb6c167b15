using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Chat.Tests.Web;

/// <summary>
/// The whole graph of Chat.AppHost started once through the testing entry point (so the page is the one the gateway
/// build embedded: ClientApp built by Vite), the offline model paced at 40 ms a token so replies visibly stream; and
/// Debian's Chromium, headless, driven by Playwright.
/// </summary>
public sealed class WebChatFixture : IAsyncLifetime
{
    public const int InterTokenDelayMs = 40;

    /// <summary>
    /// Every render of a reply, as the page announces it (a <c>chat:reply</c> DOM event after the DOM shows it): the
    /// state and the text on screen at that moment. Tests read the streamed states from here instead of polling the DOM
    /// and hoping to catch a reply mid-stream.
    /// </summary>
    private const string RecordReplies = """
        window.__replies = [];
        document.addEventListener('chat:reply', (e) => window.__replies.push({
          state: e.detail.state,
          transport: e.detail.transport,
          text: e.target.querySelector('.body')?.textContent ?? '',
        }));
        """;

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
        });
        App = await appHost.StartHealthyAsync();
        try
        {
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

    /// <summary>A fresh browser context (own storage) at the given size with the chat page open on the given transport.</summary>
    public async Task<IPage> OpenAsync(string transport, string? sessionId = null, Viewport? viewport = null)
    {
        viewport ??= Viewport.Desktop;
        var context = await Browser.NewContextAsync(new()
        {
            ViewportSize = new() { Width = viewport.Width, Height = viewport.Height },
            // A phone as a phone browser sees the page: the meta viewport applies, touch is on.
            IsMobile = viewport.IsPhone,
            HasTouch = viewport.IsPhone,
            DeviceScaleFactor = viewport.IsPhone ? 2 : 1,
        }).DefaultTimeout();
        await context.AddInitScriptAsync(RecordReplies).DefaultTimeout();
        var page = await context.NewPageAsync().DefaultTimeout();
        page.SetDefaultTimeout(15_000);
        var hash = sessionId is null ? $"transport={transport}" : $"session={sessionId}&transport={transport}";
        await page.GotoAsync(new Uri(Gateway, $"/#{hash}").ToString()).DefaultTimeout();
        return page;
    }

    /// <summary>An HTTP client on the gateway, as curl or the CLI would use it.</summary>
    public HttpClient CreateGatewayClient() => new() { BaseAddress = Gateway, Timeout = TimeSpan.FromSeconds(30) };

    public static string Screenshot(string name) => Browsers.Screenshot(name);

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

/// <summary>The sizes the page is tested at: a desktop, a common phone (375×812) and a narrow one (360 px).</summary>
public sealed record Viewport(string Name, int Width, int Height, bool IsPhone)
{
    public static readonly Viewport Desktop = new("desktop", 1440, 900, false);
    public static readonly Viewport Phone = new("phone", 375, 812, true);
    public static readonly Viewport NarrowPhone = new("phone360", 360, 740, true);

    public static Viewport Named(string name) => name switch
    {
        "desktop" => Desktop,
        "phone" => Phone,
        "phone360" => NarrowPhone,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    public override string ToString() => Name;
}

[CollectionDefinition(Name)]
public sealed class WebChatCollection : ICollectionFixture<WebChatFixture>
{
    public const string Name = "web-chat";
}
