using System.Text;
using Grpc.Core;

namespace Chat.Llm.Service.Grpc;

/// <summary>The statuses this service answers with, in one place so every RPC words them the same.</summary>
public static class RpcErrors
{
    public static RpcException SessionNotFound() => new(new Status(StatusCode.NotFound, "Session not found"));

    public static RpcException TurnNotFound() => new(new Status(StatusCode.NotFound, "Turn not found (unknown, or its resume buffer expired)"));

    public static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));

    /// <summary>The gRPC status name as the protocol spells it (RESOURCE_EXHAUSTED, not ResourceExhausted).</summary>
    public static string CodeName(StatusCode code)
    {
        var name = code.ToString();
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]))
            {
                builder.Append('_');
            }

            builder.Append(char.ToUpperInvariant(name[i]));
        }

        return builder.ToString();
    }

    public static StatusCode FromHttpStatus(int status) => status switch
    {
        400 => StatusCode.InvalidArgument,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.NotFound,
        408 or 504 => StatusCode.DeadlineExceeded,
        429 => StatusCode.ResourceExhausted,
        >= 500 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    public static bool IsRetryable(StatusCode code) =>
        code is StatusCode.ResourceExhausted or StatusCode.Unavailable or StatusCode.DeadlineExceeded;
}

/// <summary>Input limits: empty or oversized messages and malformed session ids are INVALID_ARGUMENT.</summary>
public static class RequestValidation
{
    public static void ValidateMessage(string? message, int maxBytes)
    {
        if (string.IsNullOrWhiteSpace(message))
        {
            throw RpcErrors.InvalidArgument("The message is empty.");
        }

        var bytes = Encoding.UTF8.GetByteCount(message);
        if (bytes > maxBytes)
        {
            throw RpcErrors.InvalidArgument($"The message is {bytes} bytes; the limit is {maxBytes} bytes.");
        }
    }

    /// <summary>Session ids are GUIDs; returns the canonical (lower-case, hyphenated) form.</summary>
    public static string ParseSessionId(string? sessionId)
    {
        if (string.IsNullOrWhiteSpace(sessionId))
        {
            throw RpcErrors.InvalidArgument("session_id is required.");
        }

        return Guid.TryParse(sessionId, out var id)
            ? id.ToString("D")
            : throw RpcErrors.InvalidArgument("session_id is not a valid session id (a GUID).");
    }

    public static string ParseTurnId(string? turnId) =>
        Guid.TryParse(turnId, out var id) ? id.ToString("N") : throw RpcErrors.InvalidArgument("turn_id is not a valid turn id.");
}
