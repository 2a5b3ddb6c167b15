using System.Diagnostics;
using OpenTelemetry;

namespace Chat.Conversation.Telemetry;

/// <summary>
/// A session subscription (chat.llm.v1 WatchSession, server streaming) runs until its connection leaves, and a
/// client ends a server-streaming call the one way it can: by cancelling it. The gRPC instrumentation records every
/// CANCELLED call as an error, so each WebSocket or gRPC connection that followed a session would end its trace in red.
/// This processor records that ending as what it is — the subscriber unsubscribed — with <c>chat.subscription.end</c>
/// = <c>unsubscribed</c> and no error status. Any other status of the call (UNAVAILABLE when llm went away…) stays an error.
/// </summary>
public sealed class UnsubscribeProcessor : BaseProcessor<Activity>
{
    public const string WatchSessionMethod = "chat.llm.v1.LlmService/WatchSession";

    public override void OnEnd(Activity data)
    {
        if (data.Status == ActivityStatusCode.Error
            && data.Kind == ActivityKind.Client
            && data.GetTagItem("rpc.method") is WatchSessionMethod
            && data.GetTagItem("rpc.response.status_code") is "CANCELLED")
        {
            data.SetStatus(ActivityStatusCode.Unset);
            data.SetTag("error.type", null);
            data.SetTag("chat.subscription.end", "unsubscribed");
        }
    }
}
