using Chat.Gateway;
using Chat.Gateway.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Caller authentication by API key. With no keys configured (the default) it is a no-op: every caller passes as
/// anonymous and X-Chat-Principal is never set (only stripped). With keys, every proxied route needs one; the index
/// and the health endpoints stay open.
/// </summary>
public static class GatewayAuthenticationExtensions
{
    public const string CallerPolicy = "caller";

    public static WebApplicationBuilder AddGatewayAuthentication(this WebApplicationBuilder builder)
    {
        builder.Services.AddApiKeyQueryRedaction();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(
                ApiKeyAuthenticationHandler.SchemeName, configureOptions: null);
        builder.Services.AddSingleton<IAuthorizationHandler, CallerRequirementHandler>();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(CallerPolicy, policy => policy.AddRequirements(new CallerRequirement()));
        return builder;
    }

    public static WebApplication UseGatewayAuthentication(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    /// <summary>The proxied routes need a known caller, whenever keys are configured.</summary>
    public static TBuilder RequireCaller<TBuilder>(this TBuilder endpoints) where TBuilder : IEndpointConventionBuilder =>
        endpoints.RequireAuthorization(CallerPolicy);

    private sealed class CallerRequirement : IAuthorizationRequirement;

    /// <summary>Open while no keys are configured (read per request, so keys can be added by configuration reload).</summary>
    private sealed class CallerRequirementHandler(IOptionsMonitor<GatewayOptions> options) : AuthorizationHandler<CallerRequirement>
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, CallerRequirement requirement)
        {
            if (options.CurrentValue.ApiKeys.Count == 0 || context.User.Identity?.IsAuthenticated == true)
            {
                context.Succeed(requirement);
            }

            return Task.CompletedTask;
        }
    }
}
