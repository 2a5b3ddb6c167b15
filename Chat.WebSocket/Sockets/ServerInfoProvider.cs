using Chat.Contracts.Llm.V1;
using Grpc.Core;

namespace Chat.WebSocket.Sockets;

/// <summary>
/// What the <c>connected</c> message says about the server. The model is the LLM service's, asked once and then
/// cached, so a connect never waits on more than one short call.
/// </summary>
public sealed class ServerInfoProvider(LlmService.LlmServiceClient llm)
{
    public const string Framework = "ASP.NET Core WebSockets";

    public static readonly IReadOnlyList<string> Features =
    [
        "Real-time bidirectional communication",
        "Token streaming from the model",
        "Session management (Redis)",
        "Typing indicators and message updates across replicas",
        "Cancel and resume of replies",
        "Keep-alive pings",
    ];

    private string? _model;

    public async Task<ServerInfo> GetAsync(CancellationToken cancellationToken)
    {
        if (_model is null)
        {
            try
            {
                var stats = await llm.GetStatsAsync(new GetStatsRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancellationToken);
                _model = stats.Model;
            }
            catch (RpcException)
            {
                return new ServerInfo("unknown", Framework, Features);
            }
        }

        return new ServerInfo(_model, Framework, Features);
    }
}
