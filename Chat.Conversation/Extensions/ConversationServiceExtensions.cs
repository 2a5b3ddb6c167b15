using Chat.Conversation.Engine;
using Chat.Conversation.Telemetry;
using OpenTelemetry.Trace;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

public static class ConversationServiceExtensions
{
    /// <summary>
    /// The conversation engine a bidirectional transport runs each connection on. Needs the LLM service client, the
    /// <c>Transport</c> options and the transport telemetry, which every transport registers.
    /// </summary>
    public static IServiceCollection AddConversationEngine(this IServiceCollection services)
    {
        services.TryAddSingleton<ConversationServices>();
        // A connection that stops following its session cancels the subscription: not an error (UnsubscribeProcessor).
        services.AddOpenTelemetry().WithTracing(tracing => tracing.AddProcessor<UnsubscribeProcessor>());
        return services;
    }
}
