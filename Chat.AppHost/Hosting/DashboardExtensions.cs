namespace Chat.Hosting;

public static class DashboardExtensions
{
    /// <summary>
    /// The seam for the dashboard (Chat.Dashboard: OTLP receiver + UI over IResourceSource). Today a no-op: the
    /// dashboard lands separately and wires itself in here — register its hosted service on builder.Services (the
    /// orchestrator's IResourceSource is in the container) and point every project's OTLP exporter at it with
    /// builder.Otlp.Endpoint = "http://127.0.0.1:18889". Until then telemetry goes where Otlp:Endpoint says
    /// (an external Aspire dashboard or collector), or nowhere. Skipped under the testing builder, as in Aspire.
    /// </summary>
    public static DistributedApplicationBuilder AddDashboard(this DistributedApplicationBuilder builder)
    {
        if (builder.Options.DisableDashboard || builder.Configuration.GetValue("AppHost:DisableDashboard", false))
        {
            return builder;
        }

        return builder;
    }
}
