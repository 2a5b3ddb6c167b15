using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Who this process is among the replicas: OTEL_SERVICE_NAME and the service.instance.id of OTEL_RESOURCE_ATTRIBUTES
/// (both injected per replica by the AppHost, as Aspire does), falling back to the application name and host/pid.
/// </summary>
public static class ServiceInstance
{
    public const string ServedByHeader = "X-Served-By";

    public static string Describe(IConfiguration configuration, string applicationName)
    {
        var service = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : applicationName;
        return $"{service}/{InstanceId(configuration)}";
    }

    public static string InstanceId(IConfiguration configuration)
    {
        foreach (var pair in (configuration["OTEL_RESOURCE_ATTRIBUTES"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts is ["service.instance.id", { Length: > 0 } id])
            {
                return id;
            }
        }

        return $"{Environment.MachineName}-{Environment.ProcessId}";
    }

    /// <summary>Adds X-Served-By: &lt;service&gt;/&lt;instance&gt; to every response, so replicas can be told apart.</summary>
    public static WebApplication UseServedByHeader(this WebApplication app)
    {
        var servedBy = Describe(app.Configuration, app.Environment.ApplicationName);
        app.Use((context, next) =>
        {
            context.Response.Headers[ServedByHeader] = servedBy;
            return next(context);
        });
        return app;
    }
}
