using Microsoft.AspNetCore.Builder;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The seam for caller authentication (API keys, issue 9). With no keys configured the gateway is open and every
/// caller is anonymous: nothing is registered and X-Chat-Principal is never set (only stripped).
/// </summary>
public static class GatewayAuthenticationExtensions
{
    public static WebApplicationBuilder AddGatewayAuthentication(this WebApplicationBuilder builder) => builder;

    public static WebApplication UseGatewayAuthentication(this WebApplication app) => app;
}
