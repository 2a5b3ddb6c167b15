using System.Net;
using System.Text.Json;
using Chat.Dashboard.Hosting;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Dashboard;

/// <summary>The dashboard's own HTTP surface: resources, console logs, commands, access control and listener separation.</summary>
public sealed class DashboardApiTests
{
    [Fact]
    public async Task Resources_ListsEveryReplicaFromTheSource()
    {
        await using var host = await DashboardTestHost.StartAsync();
        var resources = await host.GetJsonAsync("/api/resources");
        Assert.Equal(["redis-0", "llm-0", "sse-0", "sse-1", "websocket-0", "gateway-0"], resources.EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        var sse1 = resources.EnumerateArray().Single(r => r.GetProperty("name").GetString() == "sse-1");
        Assert.Equal("Unhealthy", sse1.GetProperty("health").GetString());
        Assert.Equal(4104, sse1.GetProperty("processId").GetInt32());
        Assert.Equal("http://127.0.0.1:5202", sse1.GetProperty("endpoints")[0].GetProperty("url").GetString());
    }

    [Fact]
    public async Task Command_OnKnownReplica_RunsIt_AndUnknownReplicaOrCommandIsRejected()
    {
        await using var host = await DashboardTestHost.StartAsync();
        using var stop = await host.Http.PostAsync("/api/resources/sse-0/commands/stop", null).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        Assert.Equal(("sse-0", "stop"), Assert.Single(host.Resources.Commands));
        var after = await host.GetJsonAsync("/api/resources");
        Assert.Equal("Stopped", after.EnumerateArray().Single(r => r.GetProperty("name").GetString() == "sse-0").GetProperty("state").GetString());

        using var unknownReplica = await host.Http.PostAsync("/api/resources/sse-9/commands/restart", null).DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, unknownReplica.StatusCode);
        using var unknownCommand = await host.Http.PostAsync("/api/resources/sse-0/commands/delete", null).DefaultTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, unknownCommand.StatusCode);
    }

    [Fact]
    public async Task ConsoleStream_SendsBacklogThenLiveLinesAsServerSentEvents()
    {
        await using var host = await DashboardTestHost.StartAsync();
        host.Resources.WriteConsole("llm-0", "first");
        host.Resources.WriteConsole("sse-0", "other replica");

        var lines = await host.GetJsonAsync("/api/resources/llm-0/console");
        Assert.Equal("first", Assert.Single(lines.EnumerateArray()).GetProperty("text").GetString());

        using var response = await host.Http.GetAsync("/api/resources/llm-0/console/stream", HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync().DefaultTimeout());
        var backlog = await ReadEventAsync(reader);
        Assert.Equal("first", backlog.Data.GetProperty("text").GetString());

        host.Resources.WriteConsole("llm-0", "second", isError: true);
        var live = await ReadEventAsync(reader);
        Assert.Equal("line", live.Event);
        Assert.Equal(live.Data.GetProperty("sequence").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture), live.Id);
        Assert.Equal("second", live.Data.GetProperty("text").GetString());
        Assert.True(live.Data.GetProperty("isError").GetBoolean());

        using var missing = await host.Http.GetAsync("/api/resources/nope-0/console").DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task BrowserToken_GuardsUiAndApi_UntilLoginSetsTheCookie()
    {
        await using var host = await DashboardTestHost.StartAsync(options => options.AuthMode = DashboardAuthMode.BrowserToken);
        Assert.NotNull(host.App.BrowserToken);
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() })
        {
            BaseAddress = host.App.UiUrl,
        };

        using var anonymous = await client.GetAsync("/api/resources").DefaultTimeout();
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        using var wrong = await client.GetAsync("/login?t=not-the-token").DefaultTimeout();
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        using var login = await client.GetAsync(host.App.LoginUrl).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/", login.Headers.Location?.OriginalString);
        Assert.Contains(login.Headers.GetValues("Set-Cookie"), c => c.Contains("httponly", StringComparison.OrdinalIgnoreCase) && c.Contains("samesite=strict", StringComparison.OrdinalIgnoreCase));

        using var authenticated = await client.GetAsync("/api/resources").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, authenticated.StatusCode);
        using var page = await client.GetAsync("/").DefaultTimeout();
        Assert.Contains("<title>Chat · Dashboard</title>", await page.Content.ReadAsStringAsync().DefaultTimeout(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Loopback_NeedsNoToken()
    {
        await using var host = await DashboardTestHost.StartAsync();
        Assert.Null(host.App.BrowserToken);
        Assert.Null(host.App.LoginUrl);
        using var response = await host.Http.GetAsync("/app.js").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Listeners_ServeOnlyTheirOwnRoutes()
    {
        await using var host = await DashboardTestHost.StartAsync();
        using var otlpHttp = new HttpClient { BaseAddress = host.App.OtlpHttpEndpoint };
        using var uiOnOtlpPort = await otlpHttp.GetAsync("/api/resources").DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, uiOnOtlpPort.StatusCode);

        using var otlpOnUiPort = await host.Http.PostAsync("/v1/traces", new ByteArrayContent([])).DefaultTimeout();
        Assert.Equal(HttpStatusCode.NotFound, otlpOnUiPort.StatusCode);

        using var empty = new ByteArrayContent([]);
        empty.Headers.ContentType = new("application/x-protobuf");
        using var otlp = await otlpHttp.PostAsync("/v1/traces", empty).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, otlp.StatusCode);
        Assert.Equal("application/x-protobuf", otlp.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task OtlpApiKey_WhenConfigured_IsRequiredOnBothProtocols()
    {
        await using var host = await DashboardTestHost.StartAsync(options => options.OtlpApiKey = "k-123");
        using var otlpHttp = new HttpClient { BaseAddress = host.App.OtlpHttpEndpoint };
        using var withoutKey = new ByteArrayContent([]);
        withoutKey.Headers.ContentType = new("application/x-protobuf");
        using var rejected = await otlpHttp.PostAsync("/v1/logs", withoutKey).DefaultTimeout();
        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/logs") { Content = new ByteArrayContent([]) };
        request.Content.Headers.ContentType = new("application/x-protobuf");
        request.Headers.Add("x-otlp-api-key", "k-123");
        using var accepted = await otlpHttp.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);

        Assert.Equal("x-otlp-api-key=k-123", host.App.OtlpEnvironment["OTEL_EXPORTER_OTLP_HEADERS"]);
    }

    [Fact]
    public async Task OtlpEnvironment_PointsServicesAtTheDashboard_OrAtTheExternalEndpoint()
    {
        await using (var host = await DashboardTestHost.StartAsync())
        {
            Assert.Equal(host.App.OtlpGrpcEndpoint.ToString().TrimEnd('/'), host.App.OtlpEnvironment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            Assert.Equal("grpc", host.App.OtlpEnvironment["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        }

        await using (var host = await DashboardTestHost.StartAsync(options =>
        {
            options.ExternalOtlpEndpoint = "http://collector:4318";
            options.ExternalOtlpProtocol = "http/protobuf";
        }))
        {
            Assert.Equal("http://collector:4318", host.App.OtlpEnvironment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            Assert.Equal("http/protobuf", host.App.OtlpEnvironment["OTEL_EXPORTER_OTLP_PROTOCOL"]);
            var info = await host.GetJsonAsync("/api/info");
            Assert.Equal("http://collector:4318", info.GetProperty("externalOtlpEndpoint").GetString());
        }
    }

    [Fact]
    public async Task InvalidOptions_FailAtStartNamingTheKey()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            DashboardTestHost.StartAsync(options => options.TelemetryLimits.MaxSpanCount = 0)).DefaultTimeout();
        Assert.Contains("Dashboard:TelemetryLimits:MaxSpanCount", error.Message, StringComparison.Ordinal);
    }

    private static async Task<(string? Event, string? Id, JsonElement Data)> ReadEventAsync(StreamReader reader)
    {
        string? eventName = null, id = null, data = null;
        while (await reader.ReadLineAsync().DefaultTimeout() is { } line)
        {
            if (line.Length == 0 && data is not null)
            {
                break;
            }

            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                eventName = line[7..];
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line[6..];
            }
        }

        return (eventName, id, JsonSerializer.Deserialize<JsonElement>(data!));
    }
}
