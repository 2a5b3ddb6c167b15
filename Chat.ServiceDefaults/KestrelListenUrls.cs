using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The URLs Kestrel would listen on by itself, for a service that adds an endpoint of its own beside them (and so has
/// to spell out every endpoint): ASPNETCORE_URLS (semicolon-separated), else ASPNETCORE_HTTP_PORTS on every
/// interface, else the service's default.
/// </summary>
public static class KestrelListenUrls
{
    public static IEnumerable<string> Configured(IConfiguration configuration, string defaultUrl)
    {
        if (configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } urls)
        {
            return urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        if (configuration[WebHostDefaults.HttpPortsKey] is { Length: > 0 } ports)
        {
            return ports.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(port => $"http://+:{port}");
        }

        return [defaultUrl];
    }
}
