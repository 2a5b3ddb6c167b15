using Aspire.Hosting.ApplicationModel;

namespace Aspire.Hosting;

public static class PlainHttpExtensions
{
    /// <summary>
    /// Every endpoint of this application is plain HTTP (h2c for gRPC) on loopback; TLS belongs to the ingress in
    /// front of it (docs/kubernetes.md). Aspire still offers each project its development certificate, and on a machine
    /// without a trusted one the dashboard then opens on a red "no trusted development certificate" banner.
    /// </summary>
    public static IResourceBuilder<T> WithoutDevelopmentCertificate<T>(this IResourceBuilder<T> builder)
        where T : IResourceWithEnvironment, IResourceWithArgs
    {
#pragma warning disable ASPIRECERTIFICATES001 // Experimental; the one switch Aspire offers for it.
        return builder.WithoutHttpsCertificate();
#pragma warning restore ASPIRECERTIFICATES001
    }
}
