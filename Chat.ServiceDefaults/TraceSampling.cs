using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What is not traced (docs/conventions.md, "Telemetry"): probes and the polls and background calls nobody asked for.
/// The decision is made once, where such work starts, and travels with it: a probe's server span is filtered out (not
/// recorded), every span under an unrecorded parent is dropped, in this process and, through the traceparent's
/// sampled flag, in the next (the transports' GetStats poll of llm, the Redis commands llm runs for it).
/// </summary>
public static class TraceSampling
{
    private const string GrpcHealthService = "/grpc.health.v1.Health";

    /// <summary>
    /// <c>/health</c> and <c>/alive</c> (also behind one route prefix, as the gateway serves them: <c>/rest/health</c>),
    /// and grpc.health.v1 (<c>/grpc.health.v1.Health/Check</c>, also under the gateway's gRPC-Web prefix).
    /// </summary>
    public static bool IsProbe(PathString path)
    {
        var value = path.Value.AsSpan();
        if (value.Length < 2 || value[0] != '/')
        {
            return false;
        }

        // At most one route prefix before the probe's own segment.
        var rest = value[1..];
        var slash = rest.IndexOf('/');
        if (slash >= 0 && IsProbeSegment(rest[(slash + 1)..]))
        {
            return true;
        }

        return IsProbeSegment(rest)
            || value.StartsWith(GrpcHealthService + "/", StringComparison.Ordinal)
            || (slash >= 0 && rest[slash..].StartsWith(GrpcHealthService + "/", StringComparison.Ordinal));

        static bool IsProbeSegment(ReadOnlySpan<char> segment) =>
            segment.TrimEnd('/') is "health" or "alive";
    }

    /// <summary>
    /// The sampler every service uses. A span with a parent follows it (recorded parent: recorded; unrecorded: dropped,
    /// context still propagated). A root span is recorded, by the configured root sampler, unless it is an outgoing
    /// call with nothing above it (kind Client or Producer): no request of anyone's started it, so it is a background
    /// job's — the gateway's active health checks, the gRPC health services' publishers, Redis keep-alives, a command
    /// issued outside any request.
    /// </summary>
    /// <remarks>
    /// Aspire sets <c>OTEL_TRACES_SAMPLER=always_on</c> in Development, which would record the children of filtered
    /// probes as orphan traces; this sampler replaces it. Other values keep their meaning for root spans:
    /// <c>traceidratio</c>/<c>parentbased_traceidratio</c> with <c>OTEL_TRACES_SAMPLER_ARG</c>, and
    /// <c>always_off</c>/<c>parentbased_always_off</c>.
    /// </remarks>
    public static Sampler CreateSampler(IConfiguration configuration)
    {
        Sampler root = configuration["OTEL_TRACES_SAMPLER"]?.Trim().ToLowerInvariant() switch
        {
            "traceidratio" or "parentbased_traceidratio" => new TraceIdRatioBasedSampler(
                double.TryParse(configuration["OTEL_TRACES_SAMPLER_ARG"], NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio)
                    ? Math.Clamp(ratio, 0, 1)
                    : 1),
            "always_off" or "parentbased_always_off" => new AlwaysOffSampler(),
            _ => new AlwaysOnSampler(),
        };
        return new ParentBasedSampler(new RequestRootSampler(root));
    }

    /// <summary>Roots only (ParentBasedSampler asks it for spans without a parent).</summary>
    private sealed class RequestRootSampler(Sampler inner) : Sampler
    {
        private static readonly SamplingResult Drop = new(SamplingDecision.Drop);

        public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
            samplingParameters.Kind is ActivityKind.Client or ActivityKind.Producer
                // Grpc.Net.Client's own activity before its instrumentation has set the kind.
                || samplingParameters.Name == "Grpc.Net.Client.GrpcOut"
                ? Drop
                : inner.ShouldSample(samplingParameters);
    }
}
