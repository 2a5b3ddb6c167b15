using System.Security.Cryptography;
using System.Text;

namespace Chat.Contracts.Security;

/// <summary>
/// The shared secret between the transports and Chat.Llm.Service (docs/reliability.md). When <c>Llm:InternalApiKey</c>
/// is set, every chat.llm.v1 call carries it as the <c>x-chat-internal-key</c> metadata entry and the LLM service refuses
/// calls without it (UNAUTHENTICATED); unset, nothing is sent or checked.
/// </summary>
public static class InternalCredential
{
    public const string ConfigurationKey = "Llm:InternalApiKey";
    public const string EnvironmentName = "Llm__InternalApiKey";
    public const string MetadataKey = "x-chat-internal-key";

    /// <summary>Compares in constant time so the answer's timing says nothing about how much of a guess was right.</summary>
    public static bool Matches(string expected, string? presented) =>
        presented is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(expected)), SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
}

/// <summary>Adds the internal credential to every outgoing chat.llm.v1 request (a header is gRPC metadata on the wire).</summary>
public sealed class InternalCredentialHandler(string key) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (key.Length > 0)
        {
            request.Headers.TryAddWithoutValidation(InternalCredential.MetadataKey, key);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
