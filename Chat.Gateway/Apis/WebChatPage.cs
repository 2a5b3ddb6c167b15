using System.Reflection;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Chat.Gateway.Apis;

/// <summary>
/// The web chat page (docs/web.md): index.html at <c>/</c> for browsers, its modules and stylesheet under <c>/web/</c>,
/// all embedded in the assembly (wwwroot/), so the gateway ships it with no front-end build and no files on disk.
/// </summary>
public static class WebChatPage
{
    public const string AssetPrefix = "/web";

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
    };

    private static readonly Dictionary<string, byte[]> Files = Load(typeof(WebChatPage).Assembly);

    public static FileContentHttpResult Index { get; } = TypedResults.File(Files["/index.html"], ContentTypes[".html"]);

    public static IEndpointRouteBuilder MapWebChatPage(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup(AssetPrefix);
        foreach (var (path, content) in Files.Where(file => file.Key != "/index.html"))
        {
            var contentType = ContentTypes.GetValueOrDefault(Path.GetExtension(path), "application/octet-stream");
            // Revalidated each load (no-cache): the files are small and a new gateway build must show at once.
            group.MapGet(path, (HttpResponse response) =>
            {
                response.Headers.CacheControl = "no-cache";
                return TypedResults.Bytes(content, contentType);
            });
        }

        return endpoints;
    }

    private static Dictionary<string, byte[]> Load(Assembly assembly) => assembly.GetManifestResourceNames()
        .Where(name => name.StartsWith("wwwroot/", StringComparison.Ordinal))
        .ToDictionary(name => name["wwwroot".Length..], name => Read(assembly, name), StringComparer.Ordinal);

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
