using Chat.Contracts.Security;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Chat.Llm.Service.Grpc;

/// <summary>
/// With <c>Llm:InternalApiKey</c> configured, a call without that key in <c>x-chat-internal-key</c> is UNAUTHENTICATED
/// before any handler runs: only the transports (which the AppHost gives the key) can reach sessions. grpc.health.v1
/// stays open so probes need no secret. Without the setting every call is accepted (local development, tests).
/// </summary>
public sealed class InternalCredentialInterceptor(IConfiguration configuration) : Interceptor
{
    private readonly string _key = configuration[InternalCredential.ConfigurationKey] ?? "";

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Authenticate(ServerCallContext context)
    {
        if (_key.Length == 0 || context.Method.StartsWith("/grpc.health.v1.", StringComparison.Ordinal))
        {
            return;
        }

        if (!InternalCredential.Matches(_key, context.RequestHeaders.GetValue(InternalCredential.MetadataKey)))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "This service accepts calls from the chat transports only."));
        }
    }
}
