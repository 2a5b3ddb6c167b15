using System.Diagnostics;
using Chat.Conversation.Telemetry;

namespace Chat.Tests.Conversation;

public sealed class UnsubscribeProcessorTests
{
    [Fact]
    public void CancelledSessionSubscription_IsRecordedAsUnsubscribed_NotAsAnError()
    {
        using var span = ClientSpan(UnsubscribeProcessor.WatchSessionMethod, "CANCELLED");
        new UnsubscribeProcessor().OnEnd(span);
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
        Assert.Null(span.GetTagItem("error.type"));
        Assert.Equal("unsubscribed", span.GetTagItem("chat.subscription.end"));
    }

    [Theory]
    [InlineData(UnsubscribeProcessor.WatchSessionMethod, "UNAVAILABLE")]
    [InlineData("chat.llm.v1.LlmService/StreamTurn", "CANCELLED")]
    public void OtherEndings_StayErrors(string method, string status)
    {
        using var span = ClientSpan(method, status);
        new UnsubscribeProcessor().OnEnd(span);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal(status, span.GetTagItem("error.type"));
    }

    private static Activity ClientSpan(string method, string status)
    {
        var span = new Activity("call");
        span.SetIdFormat(ActivityIdFormat.W3C);
        typeof(Activity).GetProperty(nameof(Activity.Kind))!.SetValue(span, ActivityKind.Client);
        span.Start();
        span.SetTag("rpc.method", method);
        span.SetTag("rpc.response.status_code", status);
        span.SetTag("error.type", status);
        span.SetStatus(ActivityStatusCode.Error);
        span.Stop();
        return span;
    }
}
