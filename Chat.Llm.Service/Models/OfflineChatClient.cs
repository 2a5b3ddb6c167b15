using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Service.Models;

/// <summary>
/// A deterministic local model for runs without an API key or network: it streams word-sized tokens at a configured
/// pace and its reply visibly depends on the conversation (the turn number and the first user message), so multi-turn
/// behaviour is testable. It always says it is an offline model.
/// </summary>
public sealed class OfflineChatClient(OfflineModelOptions options) : IChatClient
{
    private readonly TokenClock? _clock = options.InterTokenDelayMs > 0 ? new TokenClock(TimeSpan.FromMilliseconds(options.InterTokenDelayMs)) : null;

    public const string ProviderName = "offline";

    /// <summary>The key under which each update carries the Stopwatch timestamp of its production.</summary>
    public const string EmittedAtTicksKey = "emitted_at_ticks";

    private readonly ChatClientMetadata _metadata = new(ProviderName, defaultModelId: options.ModelId);

    public async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            updates.Add(update);
        }

        return updates.ToChatResponse();
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? chatOptions = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var conversation = messages.ToList();
        var tokens = Tokenize(ComposeReply(conversation));
        var finishReason = ChatFinishReason.Stop;
        if (options.ReplyTokens > 0)
        {
            tokens = Repeat(tokens, options.ReplyTokens);
        }
        else if (chatOptions?.MaxOutputTokens is > 0 and var max && max < tokens.Count)
        {
            tokens = tokens.Take(max).ToList();
            finishReason = ChatFinishReason.Length;
        }

        var responseId = Guid.NewGuid().ToString("N");
        var modelId = chatOptions?.ModelId ?? options.ModelId;
        await DelayAtLeastAsync(TimeSpan.FromMilliseconds(options.TimeToFirstTokenMs), cancellationToken);
        var intervalTicks = (long)(options.InterTokenDelayMs * (Stopwatch.Frequency / 1000.0));
        var firstTokenAt = 0L;
        for (var i = 0; i < tokens.Count; i++)
        {
            if (i == 0)
            {
                firstTokenAt = Stopwatch.GetTimestamp();
            }
            else if (_clock is not null)
            {
                await _clock.WaitUntilAsync(firstTokenAt + i * intervalTicks, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, tokens[i])
            {
                ResponseId = responseId,
                ModelId = modelId,
                AdditionalProperties = new() { [EmittedAtTicksKey] = Stopwatch.GetTimestamp() },
            };
        }

        var inputTokens = conversation.Sum(m => CountWords(m.Text));
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ResponseId = responseId,
            ModelId = modelId,
            FinishReason = finishReason,
            Contents =
            [
                new UsageContent(new UsageDetails
                {
                    InputTokenCount = inputTokens,
                    OutputTokenCount = tokens.Count,
                    TotalTokenCount = inputTokens + tokens.Count,
                }),
            ],
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose() => _clock?.Dispose();

    /// <summary>The natural reply: which turn this is, what the session began with, and what was just said.</summary>
    internal static string ComposeReply(IReadOnlyList<ChatMessage> conversation)
    {
        var userMessages = conversation.Where(m => m.Role == ChatRole.User).Select(m => m.Text).ToList();
        var turn = Math.Max(1, userMessages.Count);
        var latest = Quote(userMessages.LastOrDefault() ?? "");
        var reply = new StringBuilder()
            .Append("[offline model] This is a local offline model, not a real LLM. ")
            .Append("Turn ").Append(turn).Append(" of this conversation. ");
        if (turn == 1)
        {
            reply.Append("You said: \"").Append(latest).Append("\". Ask again and I will remember it.");
        }
        else
        {
            reply.Append("Your first message was: \"").Append(Quote(userMessages[0])).Append("\". ")
                .Append("You just said: \"").Append(latest).Append("\".");
        }

        return reply.ToString();
    }

    /// <summary>Word-sized tokens that concatenate back to the text exactly (each word keeps its trailing space).</summary>
    internal static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == ' ')
            {
                tokens.Add(text[start..(i + 1)]);
                start = i + 1;
            }
        }

        if (start < text.Length)
        {
            tokens.Add(text[start..]);
        }

        return tokens;
    }

    /// <summary>
    /// The configured time to first token is a floor: Task.Delay counts on the millisecond tick count and can end up to
    /// a millisecond early by the high-resolution clock that TTFT is measured with.
    /// </summary>
    private static async Task DelayAtLeastAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        for (var left = delay; left > TimeSpan.Zero; left = delay - Stopwatch.GetElapsedTime(start))
        {
            await Task.Delay(left < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : left, cancellationToken);
        }
    }

    private static List<string> Repeat(List<string> tokens, int count)
    {
        var result = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var token = tokens[i % tokens.Count];
            result.Add(token.EndsWith(' ') ? token : token + " ");
        }

        return result;
    }

    private static string Quote(string text)
    {
        var oneLine = text.ReplaceLineEndings(" ").Trim();
        return oneLine.Length <= 80 ? oneLine : oneLine[..80] + "...";
    }

    private static int CountWords(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
}
