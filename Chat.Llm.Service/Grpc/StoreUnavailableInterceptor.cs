using Grpc.Core;
using Grpc.Core.Interceptors;
using StackExchange.Redis;

namespace Chat.Llm.Service.Grpc;

/// <summary>Redis down or too slow is UNAVAILABLE for the caller (retryable), not UNKNOWN with an exception dump.</summary>
public sealed class StoreUnavailableInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception exception) when (IsStoreFailure(exception))
        {
            throw Unavailable(exception);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception exception) when (IsStoreFailure(exception))
        {
            throw Unavailable(exception);
        }
    }

    private static bool IsStoreFailure(Exception exception) => exception is RedisException or RedisTimeoutException or RedisConnectionException;

    private static RpcException Unavailable(Exception exception) =>
        new(new Status(StatusCode.Unavailable, "The conversation store (Redis) is unavailable; retry shortly.", exception));
}
