using Chat.Contracts.Llm.V1;
using Chat.Tests.Infrastructure;
using Grpc.Core;

namespace Chat.Tests.Llm;

internal static class TurnTestExtensions
{
    /// <summary>Runs one turn to its end and returns every event it streamed, in order.</summary>
    public static async Task<List<TurnEvent>> RunTurnAsync(this LlmService.LlmServiceClient client, TurnRequest request)
    {
        using var call = client.StreamTurn(request, cancellationToken: Infrastructure.TaskExtensions.DefaultTimeoutToken());
        var events = new List<TurnEvent>();
        await foreach (var turnEvent in call.ResponseStream.ReadAllAsync().WithCancellation(Infrastructure.TaskExtensions.DefaultTimeoutToken()))
        {
            events.Add(turnEvent);
        }

        return events;
    }

    public static Task<List<TurnEvent>> RunTurnAsync(this LlmService.LlmServiceClient client, string sessionId, string message, string principal = "") =>
        client.RunTurnAsync(new TurnRequest { SessionId = sessionId, Message = message, Principal = principal });

    public static TurnCompleted Completed(this List<TurnEvent> events) =>
        Assert.Single(events, e => e.KindCase == TurnEvent.KindOneofCase.Completed).Completed;

    public static string Text(this List<TurnEvent> events) =>
        string.Concat(events.Where(e => e.KindCase == TurnEvent.KindOneofCase.Delta).Select(e => e.Delta.Text));
}
