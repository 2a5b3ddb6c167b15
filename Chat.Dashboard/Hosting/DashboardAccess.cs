using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Chat.Dashboard.Hosting;

internal enum DashboardListener
{
    Ui,
    Otlp,
}

/// <summary>
/// Who may use which listener: the UI listener serves the UI and its API (loopback only, or with the browser token
/// cookie); the OTLP listeners serve OTLP only (with the API key header when one is configured).
/// </summary>
internal sealed class DashboardAccess(DashboardAuthMode mode, bool tokenRequired, string? browserToken, string? otlpApiKey)
{
    public const string OtlpApiKeyHeader = "x-otlp-api-key";
    public const string TokenCookie = "chat-dashboard-token";
    private const string ListenerItem = "chat-dashboard-listener";

    public static void Tag(ListenOptions listen, DashboardListener listener) =>
        listen.Use(next => connection =>
        {
            connection.Items[ListenerItem] = listener;
            return next(connection);
        });

    public static DashboardListener ListenerOf(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ListenerItem, out var listener) == true
            ? (DashboardListener)listener!
            : DashboardListener.Ui;

    public static bool IsOtlpPath(PathString path) =>
        path.StartsWithSegments("/v1")
        || path.Value?.StartsWith("/opentelemetry.proto.collector.", StringComparison.Ordinal) == true;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path;
        if (ListenerOf(context) == DashboardListener.Otlp)
        {
            if (!IsOtlpPath(path))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            if (otlpApiKey is not null && !FixedEquals(context.Request.Headers[OtlpApiKeyHeader].ToString(), otlpApiKey))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return;
            }

            await next(context);
            return;
        }

        if (IsOtlpPath(path))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (mode == DashboardAuthMode.Unsecured)
        {
            await next(context);
            return;
        }

        if (!tokenRequired)
        {
            // Bound to loopback without a token: a request from elsewhere (a forwarded port, a proxy) is refused.
            if (context.Connection.RemoteIpAddress is { } remote && !IPAddress.IsLoopback(remote))
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return;
            }

            await next(context);
            return;
        }

        if (path.Equals("/login", StringComparison.OrdinalIgnoreCase))
        {
            if (FixedEquals(context.Request.Query["t"].ToString(), browserToken!))
            {
                context.Response.Cookies.Append(TokenCookie, browserToken!, new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Strict,
                    IsEssential = true,
                    Path = "/",
                });
                context.Response.Redirect("/");
                return;
            }

            await WriteLoginRequiredAsync(context, "That token is not the one printed in the console.");
            return;
        }

        if (FixedEquals(context.Request.Cookies[TokenCookie] ?? "", browserToken!))
        {
            await next(context);
            return;
        }

        await WriteLoginRequiredAsync(context, "Open the login URL printed in the AppHost console (…/login?t=…).");
    }

    private static async Task WriteLoginRequiredAsync(HttpContext context, string message)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        if (context.Request.Path.StartsWithSegments("/api"))
        {
            await Results.Problem(message, statusCode: StatusCodes.Status401Unauthorized, title: "Login required").ExecuteAsync(context);
            return;
        }

        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync(
            $$"""
            <!doctype html><html><head><meta charset="utf-8"><title>Chat dashboard · login</title>
            <style>body{font:14px system-ui,sans-serif;background:#1b1b1f;color:#e6e6e6;display:grid;place-items:center;height:100vh;margin:0}
            main{max-width:28rem;padding:2rem;border:1px solid #333;border-radius:8px;background:#232328}</style></head>
            <body><main><h1>Login required</h1><p>{{WebUtility.HtmlEncode(message)}}</p></main></body></html>
            """,
            context.RequestAborted);
    }

    private static bool FixedEquals(string presented, string expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
}

internal static class DashboardAccessExtensions
{
    public static void TagListener(this ListenOptions listen, DashboardListener listener) => DashboardAccess.Tag(listen, listener);

    public static IApplicationBuilder UseDashboardAccess(this IApplicationBuilder app)
    {
        var access = app.ApplicationServices.GetService(typeof(DashboardAccess)) as DashboardAccess
            ?? throw new InvalidOperationException("AddDashboardServices registers DashboardAccess.");
        return app.Use(next => context => access.InvokeAsync(context, next));
    }
}
