using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;

namespace Chat.Gateway.Authentication;

/// <summary>The <c>api_key</c> a WebSocket upgrade carried in its query string, once taken out of the URL.</summary>
public sealed class QueryApiKeyFeature(string key)
{
    public string Key { get; } = key;
}

/// <summary>
/// Takes the <c>api_key</c> query parameter out of every request's URL the moment Kestrel hands the request over,
/// before anything can record it: ASP.NET Core's hosting logs "Request starting … {Path}{QueryString}" before any
/// middleware runs (and again on "Request finished"), and the request's span records the query too. The key is kept
/// in <see cref="QueryApiKeyFeature"/> for <see cref="ApiKeyAuthenticationHandler"/>; everything after sees a URL
/// without it (the proxy never forwarded it anyway).
/// </summary>
public static class ApiKeyQueryRedaction
{
    /// <summary>Wraps the registered server (Kestrel) so each request's query is cleaned before the host sees it.</summary>
    public static IServiceCollection AddApiKeyQueryRedaction(this IServiceCollection services)
    {
        if (services.LastOrDefault(d => d.ServiceType == typeof(IServer) && !d.IsKeyedService) is not { } server)
        {
            return services;
        }

        services.Remove(server);
        services.AddSingleton<IServer>(provider => new RedactingServer(server switch
        {
            { ImplementationInstance: IServer instance } => instance,
            { ImplementationFactory: { } factory } => (IServer)factory(provider),
            _ => (IServer)ActivatorUtilities.CreateInstance(provider, server.ImplementationType!),
        }));
        return services;
    }

    /// <summary>Removes api_key from the request's query (and raw target); returns its value, if any.</summary>
    public static string? TakeApiKey(IHttpRequestFeature request)
    {
        if (request.QueryString.Length <= 1)
        {
            return null;
        }

        var query = QueryHelpers.ParseQuery(request.QueryString);
        if (!query.Remove(ApiKeyAuthenticationHandler.ApiKeyQueryParameter, out var presented))
        {
            return null;
        }

        var rest = QueryString.Create(query.SelectMany(pair => pair.Value.Select(value => KeyValuePair.Create(pair.Key, value))));
        request.QueryString = rest.ToString();
        var pathEnd = request.RawTarget.IndexOf('?', StringComparison.Ordinal);
        if (pathEnd >= 0)
        {
            request.RawTarget = request.RawTarget[..pathEnd] + rest;
        }

        return presented.FirstOrDefault(value => !string.IsNullOrEmpty(value));
    }

    private sealed class RedactingServer(IServer inner) : IServer
    {
        public IFeatureCollection Features => inner.Features;

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull =>
            inner.StartAsync(new RedactingApplication<TContext>(application), cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);

        public void Dispose() => inner.Dispose();
    }

    private sealed class RedactingApplication<TContext>(IHttpApplication<TContext> inner) : IHttpApplication<TContext> where TContext : notnull
    {
        public TContext CreateContext(IFeatureCollection contextFeatures)
        {
            // Set on every request: Kestrel reuses a connection's feature collection for the next request.
            var key = contextFeatures.Get<IHttpRequestFeature>() is { } request ? TakeApiKey(request) : null;
            contextFeatures.Set(key is null ? null : new QueryApiKeyFeature(key));
            return inner.CreateContext(contextFeatures);
        }

        public Task ProcessRequestAsync(TContext context) => inner.ProcessRequestAsync(context);

        public void DisposeContext(TContext context, Exception? exception) => inner.DisposeContext(context, exception);
    }
}
