using System.Reflection;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Chat.Gateway.Apis;

/// <summary>
/// The web chat page (docs/web.md): index.html at <c>/</c> for browsers, the rest of Vite's output under <c>/web/</c>.
/// The build (ClientApp → wwwroot, Chat.Gateway.csproj) embeds the files in the assembly, so the gateway ships the
/// page with nothing on disk at run time.
/// </summary>
public static class WebChatPage
{
    public const string AssetPrefix = "/web";

    private const string IndexPath = "/index.html";

    // Vite puts a content hash in every name under assets/: such a file never changes, so it is cached for good.
    private const string HashedAssetsPrefix = "/assets/";

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".json"] = "application/json",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
        [".ico"] = "image/x-icon",
        [".woff2"] = "font/woff2",
        [".txt"] = "text/plain; charset=utf-8",
    };

    private static readonly Dictionary<string, byte[]> Files = Load(typeof(WebChatPage).Assembly);

    /// <summary>The page; an assembly built without it (-p:SkipClientAppBuild=true and no wwwroot) says so.</summary>
    public static FileContentHttpResult Index { get; } = TypedResults.File(
        Files.GetValueOrDefault(IndexPath) ?? "<!doctype html><title>chat-gateway</title><p>This gateway was built without its web page (docs/web.md). The JSON index is at <a href=\"/?format=json\">/?format=json</a>.</p>"u8.ToArray(),
        ContentTypes[".html"]);

    public static IEndpointRouteBuilder MapWebChatPage(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup(AssetPrefix);
        foreach (var (path, content) in Files.Where(file => file.Key != IndexPath))
        {
            var contentType = ContentTypes.GetValueOrDefault(Path.GetExtension(path), "application/octet-stream");
            // Anything without a hash in its name is revalidated on each load, so a new gateway build shows at once.
            var cacheControl = path.StartsWith(HashedAssetsPrefix, StringComparison.Ordinal)
                ? "public, max-age=31536000, immutable"
                : "no-cache";
            group.MapGet(path, (HttpResponse response) =>
            {
                response.Headers.CacheControl = cacheControl;
                return TypedResults.Bytes(content, contentType);
            });
        }

        return endpoints;
    }

    private static Dictionary<string, byte[]> Load(Assembly assembly) => assembly.GetManifestResourceNames()
        .Where(name => name.StartsWith("wwwroot/", StringComparison.Ordinal))
        // A build on Windows names resources with its own separator (%(RecursiveDir)).
        .ToDictionary(name => name["wwwroot".Length..].Replace('\\', '/'), name => Read(assembly, name), StringComparer.Ordinal);

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
