extern alias apphost;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Chat.Hosting;
using Chat.Hosting.Testing;
using Chat.Tests.Infrastructure;
using Chat.Tests.SystemTests;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Dashboard;

/// <summary>The whole graph with its dashboard: real processes export to it over OTLP/gRPC, the orchestrator feeds its resources.</summary>
public sealed class DashboardSystemTests
{
    [Fact]
    public async Task AppHost_WithDashboard_ShowsResourcesConsoleAndATurnTracedAcrossServices()
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Program>([], options =>
        {
            SystemTestSettings.Apply(options);
            options.DisableDashboard = false;
        }).DefaultTimeout();
        await using var app = await appHost.BuildAsync().DefaultTimeout();
        await app.StartAsync().DefaultTimeout();
        await app.WaitForAllResourcesHealthyAsync().WaitAsync(TimeSpan.FromSeconds(60));

        var dashboard = app.Services.GetRequiredService<RunningDashboard>().App;
        Assert.NotNull(dashboard);
        using var ui = new HttpClient { BaseAddress = dashboard.UiUrl, Timeout = Infrastructure.TaskExtensions.DefaultTimeoutSpan };

        var resources = await ui.GetFromJsonAsync<JsonElement>("/api/resources").DefaultTimeout();
        var byName = resources.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.All(["redis-0", "llm-0", "rest-0", "sse-0", "gateway-0"], name => Assert.Equal("Running", byName[name].GetProperty("state").GetString()));
        Assert.Equal(dashboard.OtlpGrpcEndpoint.ToString().TrimEnd('/'),
            byName["llm-0"].GetProperty("environment").GetProperty("OTEL_EXPORTER_OTLP_ENDPOINT").GetString());
        var console = await ui.GetFromJsonAsync<JsonElement>("/api/resources/llm-0/console").DefaultTimeout();
        Assert.Contains(console.EnumerateArray(), line => line.GetProperty("text").GetString()!.Contains("Now listening on", StringComparison.Ordinal));

        using var gateway = app.CreateHttpClient("gateway", "http");
        using var turn = await gateway.PostAsJsonAsync("/rest/chat", new { message = "Hello dashboard" }).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, turn.StatusCode);

        // Development settings export every second; wait for the trace that crossed gateway → rest → llm.
        JsonElement trace = default;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            var traces = await ui.GetFromJsonAsync<JsonElement>("/api/telemetry/traces?resource=llm").DefaultTimeout();
            trace = traces.GetProperty("items").EnumerateArray().FirstOrDefault(t =>
                t.GetProperty("hasGenAi").GetBoolean()
                && t.GetProperty("resources").EnumerateArray().Select(r => r.GetString()).Intersect(["gateway-0", "rest-0", "llm-0"]).Count() == 3);
            if (trace.ValueKind == JsonValueKind.Object)
            {
                break;
            }

            await Task.Delay(250);
        }

        Assert.Equal(JsonValueKind.Object, trace.ValueKind);
        var detail = await ui.GetFromJsonAsync<JsonElement>($"/api/telemetry/traces/{trace.GetProperty("traceId").GetString()}").DefaultTimeout();
        // The model call's span (Microsoft.Extensions.AI's OpenTelemetryChatClient) carries the token usage.
        var genAi = detail.GetProperty("spans").EnumerateArray()
            .Where(s => s.TryGetProperty("genAi", out _)).Select(s => s.GetProperty("genAi"))
            .Single(g => g.TryGetProperty("outputTokens", out _));
        Assert.True(genAi.GetProperty("outputTokens").GetInt64() > 0);
        Assert.StartsWith("offline", genAi.GetProperty("responseModel").GetString() ?? genAi.GetProperty("requestModel").GetString(), StringComparison.Ordinal);

        var telemetryResources = await ui.GetFromJsonAsync<JsonElement>("/api/telemetry/resources").DefaultTimeout();
        Assert.Contains(telemetryResources.EnumerateArray(), r => r.GetProperty("name").GetString() == "llm-0");
    }
}
