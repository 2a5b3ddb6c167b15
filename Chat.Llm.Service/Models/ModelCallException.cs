using Grpc.Core;

namespace Chat.Llm.Service.Models;

/// <summary>
/// A model call that failed in a way the caller should see as a gRPC status (quota, bad request, overloaded...).
/// <see cref="Exception.Message"/> is safe to show to a user: it never holds a key or a response dump.
/// </summary>
public sealed class ModelCallException(StatusCode code, string message, bool retryable = false, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    public StatusCode Code { get; } = code;

    public bool Retryable { get; } = retryable;

    public TimeSpan? RetryAfter { get; } = retryAfter;
}
