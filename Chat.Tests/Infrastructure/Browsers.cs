using Microsoft.Playwright;

namespace Chat.Tests.Infrastructure;

/// <summary>Debian's Chromium driven by Playwright (its own browser download cannot work here), headless and offline.</summary>
public static class Browsers
{
    public static string ScreenshotDirectory { get; } = FindScreenshotDirectory();

    public static BrowserTypeLaunchOptions Launch() => new()
    {
        ExecutablePath = "/usr/bin/chromium",
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
    };

    public static string Screenshot(string name) => Path.Combine(ScreenshotDirectory, name);

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
