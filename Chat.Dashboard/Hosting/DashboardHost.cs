using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Security.Cryptography;
using Chat.Dashboard.Api;
using Chat.Dashboard.Otlp;
using Chat.Dashboard.Resources;
using Chat.Dashboard.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Dashboard.Hosting;

/// <summary>
/// Starts the dashboard as a self-contained web host inside the calling process (the AppHost, or a test): three
/// listeners — the UI and its JSON API, OTLP/gRPC, OTLP/HTTP — over one telemetry store.
/// </summary>
public static class DashboardHost
{
    public static async Task<DashboardApp> StartAsync(
        DashboardOptions options,
        IResourceSource resources,
        CancellationToken cancellationToken = default,
        Action<ILoggingBuilder>? configureLogging = null)
    {
        Validate(options);
        var bindAddress = ParseBindAddress(options.BindAddress);
        var tokenRequired = options.AuthMode == DashboardAuthMode.BrowserToken
            || (options.AuthMode == DashboardAuthMode.Auto && !IPAddress.IsLoopback(bindAddress));
        var browserToken = tokenRequired
            ? (string.IsNullOrEmpty(options.BrowserToken) ? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) : options.BrowserToken)
            : null;
        var access = new DashboardAccess(options.AuthMode, tokenRequired, browserToken, options.OtlpApiKey);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(DashboardHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
            Args = [],
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        if (configureLogging is null)
        {
            builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
        }
        else
        {
            configureLogging(builder.Logging);
        }

        ListenOptions? ui = null, otlpGrpc = null, otlpHttp = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(bindAddress, options.UiPort, listen =>
            {
                // Cleartext: browsers speak HTTP/1.1 here; h2 would need TLS.
                listen.Protocols = HttpProtocols.Http1;
                listen.TagListener(DashboardListener.Ui);
                ui = listen;
            });
            kestrel.Listen(bindAddress, options.OtlpGrpcPort, listen =>
            {
                // OTLP/gRPC is cleartext HTTP/2 with prior knowledge.
                listen.Protocols = HttpProtocols.Http2;
                listen.TagListener(DashboardListener.Otlp);
                otlpGrpc = listen;
            });
            kestrel.Listen(bindAddress, options.OtlpHttpPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.TagListener(DashboardListener.Otlp);
                otlpHttp = listen;
            });
            // OTLP batches from a busy service can be large; Aspire allows the same.
            kestrel.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
        });

        builder.Services.AddDashboardServices(options, resources, access);

        var app = builder.Build();
        app.UseDashboardAccess();
        app.MapGrpcService<OtlpTraceService>();
        app.MapGrpcService<OtlpLogsService>();
        app.MapGrpcService<OtlpMetricsService>();
        app.MapOtlpHttpApi();
        app.MapResourcesApi();
        app.MapTelemetryApi();
        app.MapDashboardUi();

        await app.StartAsync(cancellationToken);

        var displayHost = bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any) ? Dns.GetHostName() : FormatHost(bindAddress);
        var otlpHost = OtlpHost(bindAddress);
        var dashboard = new DashboardApp(
            app,
            new Uri($"http://{displayHost}:{ui!.IPEndPoint!.Port}/"),
            new Uri($"http://{otlpHost}:{otlpGrpc!.IPEndPoint!.Port}/"),
            new Uri($"http://{otlpHost}:{otlpHttp!.IPEndPoint!.Port}/"),
            browserToken,
            options,
            app.Services.GetRequiredService<TelemetryStore>());

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DashboardHost).FullName!);
        DashboardLog.Listening(logger, dashboard.UiUrl, dashboard.OtlpGrpcEndpoint, dashboard.OtlpHttpEndpoint);
        if (dashboard.LoginUrl is not null)
        {
            // The token is what Aspire prints too: whoever reads this console may open the dashboard.
            DashboardLog.LoginUrl(logger, dashboard.LoginUrl);
        }

        if (!string.IsNullOrEmpty(options.ExternalOtlpEndpoint))
        {
            DashboardLog.ExternalTelemetry(logger, options.ExternalOtlpEndpoint);
        }

        return dashboard;
    }

    /// <summary>
    /// Replaces port 0 with a free port now, for a caller that must hand out the OTLP address before the dashboard
    /// starts (the AppHost computes every replica's environment first). The usual reserve-then-bind race applies.
    /// </summary>
    public static void AssignFreePorts(DashboardOptions options)
    {
        options.UiPort = options.UiPort == 0 ? FreePort() : options.UiPort;
        options.OtlpGrpcPort = options.OtlpGrpcPort == 0 ? FreePort() : options.OtlpGrpcPort;
        options.OtlpHttpPort = options.OtlpHttpPort == 0 ? FreePort() : options.OtlpHttpPort;
    }

    /// <summary>The OTLP/gRPC endpoint the dashboard will listen on, for fixed (non-zero) ports.</summary>
    public static Uri PlannedOtlpGrpcEndpoint(DashboardOptions options)
    {
        if (options.OtlpGrpcPort == 0)
        {
            throw new InvalidOperationException("The OTLP/gRPC port is chosen at start; call AssignFreePorts first.");
        }

        return new Uri($"http://{OtlpHost(ParseBindAddress(options.BindAddress))}:{options.OtlpGrpcPort}");
    }

    // Services run on this machine: a wildcard bind is reached through loopback.
    private static string OtlpHost(IPAddress bindAddress) =>
        bindAddress.Equals(IPAddress.Any) ? "127.0.0.1" : bindAddress.Equals(IPAddress.IPv6Any) ? "[::1]" : FormatHost(bindAddress);

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void Validate(DashboardOptions options)
    {
        var failures = new List<string>();
        void Check(object target, string prefix)
        {
            var errors = new List<ValidationResult>();
            Validator.TryValidateObject(target, new ValidationContext(target), errors, validateAllProperties: true);
            failures.AddRange(errors.Select(e => $"{prefix}:{string.Join(",", e.MemberNames)}: {e.ErrorMessage}"));
        }

        Check(options, DashboardOptions.SectionName);
        Check(options.TelemetryLimits, $"{DashboardOptions.SectionName}:{nameof(DashboardOptions.TelemetryLimits)}");
        if (!string.IsNullOrEmpty(options.ExternalOtlpEndpoint) && !Uri.TryCreate(options.ExternalOtlpEndpoint, UriKind.Absolute, out _))
        {
            failures.Add($"{DashboardOptions.SectionName}:{nameof(options.ExternalOtlpEndpoint)}: must be an absolute URL.");
        }

        if (failures.Count > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(DashboardOptions.SectionName, typeof(DashboardOptions), failures);
        }
    }

    private static IPAddress ParseBindAddress(string address) => address switch
    {
        "localhost" => IPAddress.Loopback,
        "*" or "+" => IPAddress.Any,
        _ => IPAddress.Parse(address),
    };

    private static string FormatHost(IPAddress address) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
}

/// <summary>A running dashboard. Dispose to stop it.</summary>
public sealed class DashboardApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly DashboardOptions _options;

    internal DashboardApp(WebApplication app, Uri uiUrl, Uri otlpGrpcEndpoint, Uri otlpHttpEndpoint, string? browserToken, DashboardOptions options, TelemetryStore telemetry)
    {
        _app = app;
        _options = options;
        UiUrl = uiUrl;
        OtlpGrpcEndpoint = otlpGrpcEndpoint;
        OtlpHttpEndpoint = otlpHttpEndpoint;
        BrowserToken = browserToken;
        Telemetry = telemetry;
    }

    /// <summary>The UI, e.g. http://127.0.0.1:18888/.</summary>
    public Uri UiUrl { get; }

    /// <summary>The URL that logs a browser in (sets the token cookie), or null when no token is needed.</summary>
    public Uri? LoginUrl => BrowserToken is null ? null : new Uri(UiUrl, $"login?t={BrowserToken}");

    public Uri OtlpGrpcEndpoint { get; }

    public Uri OtlpHttpEndpoint { get; }

    public string? BrowserToken { get; }

    public TelemetryStore Telemetry { get; }

    /// <summary>
    /// The environment every service gets so its telemetry lands here (gRPC), or at the external endpoint when one is
    /// configured: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL and, when needed, OTEL_EXPORTER_OTLP_HEADERS.
    /// </summary>
    public IReadOnlyDictionary<string, string> OtlpEnvironment
    {
        get
        {
            if (!string.IsNullOrEmpty(_options.ExternalOtlpEndpoint))
            {
                var external = new Dictionary<string, string>
                {
                    ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _options.ExternalOtlpEndpoint,
                    ["OTEL_EXPORTER_OTLP_PROTOCOL"] = _options.ExternalOtlpProtocol,
                };
                if (!string.IsNullOrEmpty(_options.ExternalOtlpHeaders))
                {
                    external["OTEL_EXPORTER_OTLP_HEADERS"] = _options.ExternalOtlpHeaders;
                }

                return external;
            }

            var local = new Dictionary<string, string>
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = OtlpGrpcEndpoint.ToString().TrimEnd('/'),
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
            };
            if (!string.IsNullOrEmpty(_options.OtlpApiKey))
            {
                local["OTEL_EXPORTER_OTLP_HEADERS"] = $"{DashboardAccess.OtlpApiKeyHeader}={_options.OtlpApiKey}";
            }

            return local;
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}
