using Chat.Llm.Service.Sessions;
using Microsoft.Extensions.AI;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// Builds what the model sees for a turn from the whole stored history: the system instruction (always kept), the
/// answered turns that fit the budget (oldest dropped first, whole turns at a time), then the new user message.
/// A user message with no model reply (its turn failed or was cancelled) is skipped, so roles alternate.
/// </summary>
public static class ContextBuilder
{
    public static (List<ChatMessage> Messages, int HistoryMessages) Build(
        string systemInstruction, IReadOnlyList<StoredMessage> history, string userMessage, int maxMessages, int maxCharacters)
    {
        var turns = new List<(StoredMessage User, StoredMessage Model)>();
        for (var i = 0; i + 1 < history.Count; i++)
        {
            if (history[i].Role == StoredMessage.UserRole && history[i + 1].Role == StoredMessage.ModelRole)
            {
                turns.Add((history[i], history[i + 1]));
                i++;
            }
        }

        var kept = 0;
        var characters = 0;
        var first = turns.Count;
        while (first > 0)
        {
            var candidate = turns[first - 1];
            var size = candidate.User.Text.Length + candidate.Model.Text.Length;
            if (kept + 2 > maxMessages || characters + size > maxCharacters)
            {
                break;
            }

            kept += 2;
            characters += size;
            first--;
        }

        var messages = new List<ChatMessage>(kept + 2);
        if (!string.IsNullOrEmpty(systemInstruction))
        {
            messages.Add(new ChatMessage(ChatRole.System, systemInstruction));
        }

        foreach (var (user, model) in turns.Skip(first))
        {
            messages.Add(new ChatMessage(ChatRole.User, user.Text));
            messages.Add(new ChatMessage(ChatRole.Assistant, model.Text));
        }

        messages.Add(new ChatMessage(ChatRole.User, userMessage));
        return (messages, kept);
    }
}
