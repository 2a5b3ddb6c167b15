using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Grpc.Core;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

/// <summary>One turn over chat.llm.v1, collected and checked for the event order every turn must have.</summary>
internal static class LlmConversation
{
    public static async Task<(TurnAccepted Accepted, TurnCompleted Completed, string Text)> TurnAsync(
        LlmService.LlmServiceClient client, string sessionId, string message)
    {
        using var call = client.StreamTurn(new TurnRequest { SessionId = sessionId, Message = message },
            deadline: DateTime.UtcNow.Add(Infrastructure.TaskExtensions.DefaultTimeoutSpan));
        var events = new List<TurnEvent>();
        await foreach (var turnEvent in call.ResponseStream.ReadAllAsync())
        {
            events.Add(turnEvent);
        }

        Assert.True(events.Count >= 3, $"expected accepted, deltas, completed; got {events.Count} events");
        Assert.Equal(TurnEvent.KindOneofCase.Accepted, events[0].KindCase);
        Assert.Equal(TurnEvent.KindOneofCase.Completed, events[^1].KindCase);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        var text = string.Concat(events.Where(e => e.KindCase == TurnEvent.KindOneofCase.Delta).Select(e => e.Delta.Text));
        Assert.Equal(events[^1].Completed.FullText, text);
        return (events[0].Accepted, events[^1].Completed, text);
    }
}
