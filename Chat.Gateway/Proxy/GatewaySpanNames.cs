using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Model;

namespace Chat.Gateway.Proxy;

/// <summary>
/// The gateway's server span of a proxied request is named for what the caller did: <c>POST /rest/chat</c>,
/// <c>GET /rest/sessions/{id}</c>, <c>POST /chat.ChatService/SendMessage</c>. ASP.NET Core would name it by the YARP
/// route's template (<c>POST /rest/{**rest}</c>), which is the same for every call to a transport; the gateway is the
/// root of every chat's trace, so its name is what a trace list shows. <c>http.route</c> keeps the template (low
/// cardinality, for metrics); identifiers in the path are replaced by <c>{id}</c> so names stay a small set.
/// </summary>
public static class GatewaySpanNames
{
    /// <summary>Segments after this many are summarised as <c>…</c> (no route of the transports is that deep).</summary>
    private const int MaxSegments = 6;

    /// <summary>Longer segments are identifiers or junk, never a route's literal.</summary>
    private const int MaxLiteralLength = 40;

    /// <summary>For <c>AspNetCoreTraceInstrumentationOptions.EnrichWithHttpResponse</c>: runs when the span ends.</summary>
    public static void Enrich(Activity activity, HttpResponse response)
    {
        var context = response.HttpContext;
        if (context.Features.Get<IReverseProxyFeature>() is null)
        {
            return;
        }

        activity.DisplayName = Name(context.Request.Method, context.Request.Path);
    }

    /// <summary>"{method} {path}", identifiers in the path as <c>{id}</c>.</summary>
    public static string Name(string method, PathString path)
    {
        var value = path.Value;
        if (string.IsNullOrEmpty(value))
        {
            return method;
        }

        var name = new System.Text.StringBuilder(method.Length + value.Length + 8).Append(method).Append(' ');
        var segments = 0;
        foreach (var range in value.AsSpan().Split('/'))
        {
            var segment = value.AsSpan(range);
            if (segment.IsEmpty)
            {
                continue;
            }

            if (++segments > MaxSegments)
            {
                name.Append("/…");
                break;
            }

            name.Append('/');
            if (IsIdentifier(segment))
            {
                name.Append("{id}");
            }
            else
            {
                name.Append(segment);
            }
        }

        return segments == 0 ? name.Append('/').ToString() : name.ToString();
    }

    /// <summary>A session id (a GUID), a number, or anything too long to be a route's literal.</summary>
    private static bool IsIdentifier(ReadOnlySpan<char> segment) =>
        segment.Length > MaxLiteralLength
        || Guid.TryParse(segment, out _)
        || !segment.ContainsAnyExcept(Digits);

    private static readonly System.Buffers.SearchValues<char> Digits = System.Buffers.SearchValues.Create("0123456789");
}
