using Chat.Contracts.Llm.V1;
using Chat.Transports.Shared.Hosting;
using Grpc.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Chat.Transports.Shared.Health;

/// <summary>
/// Asks Chat.Llm.Service for its stats, which /health reports in the original's shape. An unreachable LLM service
/// makes this replica Degraded, not Unhealthy: the transport itself still serves (its chat routes answer 503 with a
/// ProblemDetails body), and taking every transport out of rotation would only turn those answers into gateway errors.
/// </summary>
internal sealed class LlmServiceHealthCheck(LlmService.LlmServiceClient llm, IOptions<TransportOptions> options) : IHealthCheck
{
    public const string Name = "llm";
    public const string StatsKey = "stats";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var stats = await llm.GetStatsAsync(
                new GetStatsRequest(),
                deadline: DateTime.UtcNow + options.Value.HealthCallTimeout,
                cancellationToken: cancellationToken);
            return HealthCheckResult.Healthy("Chat.Llm.Service answered", new Dictionary<string, object> { [StatsKey] = stats });
        }
        catch (RpcException exception)
        {
            return HealthCheckResult.Degraded($"Chat.Llm.Service did not answer: {exception.StatusCode}");
        }
    }
}
