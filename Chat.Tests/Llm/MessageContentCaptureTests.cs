using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Chat.Tests.Llm;

/// <summary>Prompts and replies on the model call's span only when opted in (docs/conventions.md, GenAI attributes).</summary>
public sealed class MessageContentCaptureTests
{
    [Theory]
    [InlineData("Development", "true", null, true)]   // what the Aspire AppHost sets in Development
    [InlineData("Development", null, null, false)]
    [InlineData("Production", "true", null, false)]   // the variable alone never does it outside Development
    [InlineData("Development", "true", "false", false)] // an explicit no wins
    [InlineData("Production", null, "true", true)]    // an explicit yes anywhere
    public void CaptureMessageContent_FollowsTheSettingThenAspiresDevelopmentConvention(
        string environment, string? captureVariable, string? setting, bool expected)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = environment });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = captureVariable,
            ["Llm:EnableSensitiveTelemetry"] = setting,
        });
        Assert.Equal(expected, LlmServiceExtensions.CaptureMessageContent(builder));
    }
}
