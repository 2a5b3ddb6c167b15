using System.Reflection;

namespace Chat.Transports.Shared.Hosting;

public static class DemoPage
{
    /// <summary>Reads a transport's demo page, an embedded resource whose name ends with <paramref name="fileName"/>.</summary>
    public static string Load(Assembly assembly, string fileName = "demo.html")
    {
        var name = assembly.GetManifestResourceNames().SingleOrDefault(n => n.EndsWith(fileName, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"{assembly.GetName().Name} embeds no resource named {fileName}");
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
