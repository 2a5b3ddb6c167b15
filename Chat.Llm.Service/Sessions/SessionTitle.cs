using System.Text;

namespace Chat.Llm.Service.Sessions;

/// <summary>
/// A session's title in lists: its first user message on one line, cut at a word boundary to at most
/// <see cref="MaxLength"/> characters with an ellipsis, so a list shows what a conversation is about, not a UUID.
/// </summary>
public static class SessionTitle
{
    public const int MaxLength = 60;

    public static string? From(string? firstMessage)
    {
        var oneLine = Collapse(firstMessage);
        if (oneLine.Length == 0)
        {
            return null;
        }

        if (oneLine.Length <= MaxLength)
        {
            return oneLine;
        }

        // Leave room for the ellipsis; prefer the last space in the second half so a word is not cut in two.
        var cut = oneLine.LastIndexOf(' ', MaxLength - 1);
        var end = cut >= MaxLength / 2 ? cut : MaxLength - 1;
        if (char.IsHighSurrogate(oneLine[end - 1]))
        {
            end--;
        }

        return oneLine[..end].TrimEnd() + "…";
    }

    private static string Collapse(string? text)
    {
        var builder = new StringBuilder(Math.Min(text?.Length ?? 0, 4 * MaxLength));
        var space = false;
        foreach (var c in (text ?? "").AsSpan().Trim())
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                space = true;
                continue;
            }

            if (space && builder.Length > 0)
            {
                builder.Append(' ');
            }

            space = false;
            builder.Append(c);
            if (builder.Length > 2 * MaxLength)
            {
                break;
            }
        }

        return builder.ToString();
    }
}
