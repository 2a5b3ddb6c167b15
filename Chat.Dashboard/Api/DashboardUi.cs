using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Chat.Dashboard.Api;

/// <summary>Serves the single-page UI from the assembly's embedded wwwroot (index.html, app.css, app.js).</summary>
public static class DashboardUi
{
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
    };

    public static IEndpointRouteBuilder MapDashboardUi(this IEndpointRouteBuilder endpoints)
    {
        var assembly = typeof(DashboardUi).Assembly;
        var files = assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith("wwwroot/", StringComparison.Ordinal))
            .ToDictionary(name => name["wwwroot".Length..], name => Read(assembly, name), StringComparer.Ordinal);

        foreach (var (path, content) in files)
        {
            var contentType = ContentTypes.GetValueOrDefault(Path.GetExtension(path), "application/octet-stream");
            endpoints.MapGet(path, () => TypedResults.Bytes(content, contentType));
        }

        // Every page is the same document; the hash (#/traces/…) picks the view.
        var index = files["/index.html"];
        endpoints.MapGet("/", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            return TypedResults.Bytes(index, "text/html; charset=utf-8");
        });
        return endpoints;
    }

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
