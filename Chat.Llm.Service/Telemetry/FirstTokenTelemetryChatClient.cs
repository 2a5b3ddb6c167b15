using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Service.Telemetry;

/// <summary>
/// Marks the first token on the model call's span: the event <see cref="FirstTokenEvent"/>, when the first update
/// carrying text arrives, with <see cref="TimeToFirstTokenAttribute"/> (seconds since the call started). It sits inside
/// Microsoft.Extensions.AI's OpenTelemetryChatClient, whose <c>chat {model}</c> span is the current activity while
/// the provider streams; that client itself sets <c>gen_ai.response.time_to_first_chunk</c> (semantic conventions:
/// the first update of any kind) when the call ends. Cost: one check per update until the first text, one event.
/// </summary>
public sealed class FirstTokenTelemetryChatClient(IChatClient innerClient) : DelegatingChatClient(innerClient)
{
    public const string FirstTokenEvent = "chat.first_token";
    public const string TimeToFirstTokenAttribute = "chat.time_to_first_token";

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Only the model call's own span, never whatever else happens to be current.
        var span = Activity.Current is { Source.Name: LlmTelemetry.GenAiSourceName, IsAllDataRequested: true } current ? current : null;
        var marked = span is null;
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            if (!marked && !string.IsNullOrEmpty(update.Text))
            {
                marked = true;
                var elapsed = (DateTime.UtcNow - span!.StartTimeUtc).TotalSeconds;
                span.AddEvent(new ActivityEvent(FirstTokenEvent, tags: new ActivityTagsCollection { [TimeToFirstTokenAttribute] = elapsed }));
            }

            yield return update;
        }
    }
}
