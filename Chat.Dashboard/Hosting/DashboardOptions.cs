using System.ComponentModel.DataAnnotations;
using Chat.Dashboard.Telemetry;

namespace Chat.Dashboard.Hosting;

/// <summary>
/// Where the dashboard listens and what it keeps. Bound from configuration section <c>Dashboard</c> by the AppHost
/// (e.g. <c>Dashboard__UiPort=0</c>); port 0 means any free port.
/// </summary>
public sealed class DashboardOptions
{
    public const string SectionName = "Dashboard";

    /// <summary>The address every listener binds to. Loopback by default; anything else turns on the browser token.</summary>
    [Required]
    public string BindAddress { get; set; } = "127.0.0.1";

    [Range(0, 65535)]
    public int UiPort { get; set; } = 18888;

    [Range(0, 65535)]
    public int OtlpGrpcPort { get; set; } = 18889;

    [Range(0, 65535)]
    public int OtlpHttpPort { get; set; } = 18890;

    /// <summary>
    /// <c>Auto</c>: no login on loopback (and requests from other machines are refused), a browser token otherwise.
    /// <c>BrowserToken</c>: always require the token. <c>Unsecured</c>: no check at all (only behind something that does one).
    /// </summary>
    public DashboardAuthMode AuthMode { get; set; } = DashboardAuthMode.Auto;

    /// <summary>The browser token; a random one is made at start when empty.</summary>
    public string? BrowserToken { get; set; }

    /// <summary>When set, OTLP requests must carry it in the <c>x-otlp-api-key</c> header (Aspire's ApiKey mode).</summary>
    public string? OtlpApiKey { get; set; }

    /// <summary>
    /// Send services' telemetry here instead of to this dashboard (a standalone Aspire dashboard, Jaeger, a collector):
    /// an OTLP endpoint URL such as <c>http://localhost:4317</c>. The dashboard still shows resources and console logs.
    /// </summary>
    public string? ExternalOtlpEndpoint { get; set; }

    /// <summary>Protocol of <see cref="ExternalOtlpEndpoint"/>: <c>grpc</c> or <c>http/protobuf</c>.</summary>
    [RegularExpression("^(grpc|http/protobuf)$")]
    public string ExternalOtlpProtocol { get; set; } = "grpc";

    /// <summary>Extra headers for the external endpoint, in OTEL_EXPORTER_OTLP_HEADERS form (<c>key=value,key2=value2</c>).</summary>
    public string? ExternalOtlpHeaders { get; set; }

    /// <summary>Console lines the UI loads when it opens a replica's console.</summary>
    [Range(1, 100_000)]
    public int MaxConsoleLogCount { get; set; } = 2_000;

    public TelemetryLimits TelemetryLimits { get; set; } = new();
}

public enum DashboardAuthMode
{
    Auto,
    BrowserToken,
    Unsecured,
}
