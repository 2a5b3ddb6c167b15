using Chat.Llm.Service.Sessions;
using Chat.Llm.Service.Turns;
using Microsoft.Extensions.AI;

namespace Chat.Tests.Llm;

public sealed class ContextBuilderTests
{
    private static StoredMessage User(string text) => new(StoredMessage.UserRole, text, 0, "t");

    private static StoredMessage Model(string text) => new(StoredMessage.ModelRole, text, 0, "t");

    [Fact]
    public void Build_SkipsAUserMessageThatGotNoReply_SoRolesAlternate()
    {
        var (messages, history) = ContextBuilder.Build("", [User("a"), Model("A"), User("failed"), User("b"), Model("B")], "c", 100, 1000);

        Assert.Equal([ChatRole.User, ChatRole.Assistant, ChatRole.User, ChatRole.Assistant, ChatRole.User], messages.Select(m => m.Role));
        Assert.Equal(["a", "A", "b", "B", "c"], messages.Select(m => m.Text));
        Assert.Equal(4, history);
    }

    [Fact]
    public void Build_OverTheCharacterBudget_DropsWholeOldestTurns_AndKeepsTheSystemInstruction()
    {
        var (messages, history) = ContextBuilder.Build("system", [User("1111"), Model("1111"), User("22"), Model("22")], "new", 100, 6);

        Assert.Equal(["system", "22", "22", "new"], messages.Select(m => m.Text));
        Assert.Equal(ChatRole.System, messages[0].Role);
        Assert.Equal(2, history);
    }

    [Fact]
    public void Build_WithAZeroBudget_SendsOnlyTheNewMessage()
    {
        var (messages, history) = ContextBuilder.Build("", [User("a"), Model("A")], "b", 0, 1000);

        Assert.Equal(["b"], messages.Select(m => m.Text));
        Assert.Equal(0, history);
    }
}
