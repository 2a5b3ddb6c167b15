using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Scalar.AspNetCore;

namespace Chat.Transports.Shared.Apis;

/// <summary>The OpenAPI document (<c>/openapi/v1.json</c>) and an API reference page at <c>/docs</c>, where the original had Swagger UI.</summary>
public static class DocsApi
{
    public const string OpenApiRoute = "/openapi/{documentName}.json";

    public static IEndpointRouteBuilder MapChatDocs(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOpenApi(OpenApiRoute);
        endpoints.MapScalarApiReference("/docs", options => options.WithOpenApiRoutePattern(OpenApiRoute));
        return endpoints;
    }
}
