using Chat.Llm.Service.Sessions;

namespace Chat.Tests.Llm;

public sealed class SessionTitleTests
{
    [Theory]
    [InlineData("Hello", "Hello")]
    [InlineData("  two\n\nlines\tand   tabs  ", "two lines and tabs")]
    [InlineData("Plan a three-day trip to Lisbon with a focus on tiles, bakeries and old trams please",
        "Plan a three-day trip to Lisbon with a focus on tiles,…")]
    [InlineData("Supercalifragilisticexpialidocious-and-other-very-long-words-without-any-spaces-at-all",
        "Supercalifragilisticexpialidocious-and-other-very-long-word…")]
    public void From_FirstMessage_IsOneLine_CutAtAWordToSixtyCharacters(string message, string title)
    {
        var result = SessionTitle.From(message);

        Assert.Equal(title, result);
        Assert.True(result!.Length <= SessionTitle.MaxLength);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" \n\t ")]
    public void From_NoText_IsNull(string? message) => Assert.Null(SessionTitle.From(message));

    [Fact]
    public void From_NeverSplitsASurrogatePair()
    {
        var message = new string('a', 58) + "😀😀😀";

        var title = SessionTitle.From(message)!;

        Assert.False(char.IsHighSurrogate(title[^2]), title);
        Assert.EndsWith("…", title, StringComparison.Ordinal);
    }
}
