using System.Security.Claims;
using Chat.Gateway.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Chat.Gateway.Proxy;

/// <summary>
/// Transforms every route gets, on top of its own (path prefix removal) from configuration:
/// the caller's identity in X-Chat-Principal (never the client's own copy), and X-Forwarded-* with the prefix the
/// gateway removed, so a transport behind /sse can build links that work from the outside.
/// </summary>
public sealed class GatewayTransformProvider : ITransformProvider
{
    public const string PrincipalHeader = "X-Chat-Principal";
    public const string ForwardedPrefixHeader = "X-Forwarded-Prefix";

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        // Only the gateway speaks for the caller: drop whatever the client sent, then state who it authenticated.
        context.AddRequestHeaderRemove(PrincipalHeader);
        context.AddRequestTransform(SetPrincipal);

        // The caller's API key stops here: transports see the principal, never the secret.
        context.AddRequestHeaderRemove(ApiKeyAuthenticationHandler.ApiKeyHeader);
        context.AddQueryRemoveKey(ApiKeyAuthenticationHandler.ApiKeyQueryParameter);
        context.AddRequestTransform(RemoveApiKeyAuthorization);

        // YARP's default X-Forwarded-Prefix is the incoming PathBase, which knows nothing of PathRemovePrefix.
        // Set For/Proto/Host as the defaults would, and the prefix from what the route's transforms cut off.
        context.UseDefaultForwarders = false;
        context.AddXForwardedFor(action: ForwardedTransformActions.Set);
        context.AddXForwardedProto(action: ForwardedTransformActions.Set);
        context.AddXForwardedHost(action: ForwardedTransformActions.Set);
        context.AddRequestTransform(SetForwardedPrefix);

        // The gateway marks its own responses X-Served-By; a proxied response names the replica that served it.
        context.AddResponseTransform(KeepBackendServedBy);
    }

    private static ValueTask KeepBackendServedBy(ResponseTransformContext context)
    {
        if (context.ProxyResponse?.Headers.TryGetValues(ServiceInstance.ServedByHeader, out var servedBy) == true)
        {
            context.HttpContext.Response.Headers[ServiceInstance.ServedByHeader] = servedBy.ToArray();
        }

        return ValueTask.CompletedTask;
    }

    private static ValueTask SetPrincipal(RequestTransformContext context)
    {
        if (context.HttpContext.User.Identity is { IsAuthenticated: true } identity
            && PrincipalOf(context.HttpContext.User, identity) is { Length: > 0 } principal)
        {
            context.ProxyRequest.Headers.TryAddWithoutValidation(PrincipalHeader, principal);
        }

        return ValueTask.CompletedTask;
    }

    private static ValueTask RemoveApiKeyAuthorization(RequestTransformContext context)
    {
        if (context.HttpContext.User.Identity?.AuthenticationType == ApiKeyAuthenticationHandler.SchemeName)
        {
            context.ProxyRequest.Headers.Authorization = null;
        }

        return ValueTask.CompletedTask;
    }

    private static string? PrincipalOf(ClaimsPrincipal user, System.Security.Principal.IIdentity identity) =>
        user.FindFirstValue(ClaimTypes.NameIdentifier) ?? identity.Name;

    private static ValueTask SetForwardedPrefix(RequestTransformContext context)
    {
        context.ProxyRequest.Headers.Remove(ForwardedPrefixHeader);

        var request = context.HttpContext.Request;
        var prefix = request.PathBase.Add(RemovedPrefix(request.Path, context.Path));
        if (prefix.HasValue)
        {
            context.ProxyRequest.Headers.TryAddWithoutValidation(ForwardedPrefixHeader, prefix.Value);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>"/sse/chat/stream" forwarded as "/chat/stream" → "/sse"; a path forwarded unchanged → none.</summary>
    private static PathString RemovedPrefix(PathString incoming, PathString forwarded)
    {
        var incomingValue = incoming.Value ?? "";
        var forwardedValue = forwarded.Value ?? "";
        if (forwardedValue.Length < incomingValue.Length
            && incomingValue.EndsWith(forwardedValue, StringComparison.Ordinal))
        {
            var prefix = incomingValue[..^forwardedValue.Length].TrimEnd('/');
            return prefix.Length > 0 ? new PathString(prefix) : PathString.Empty;
        }

        return PathString.Empty;
    }
}
