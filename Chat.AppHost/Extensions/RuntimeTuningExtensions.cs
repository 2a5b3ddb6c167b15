using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

/// <summary>
/// The .NET runtime settings the chat's services run with, as environment variables: the runtime reads these
/// two only from its environment (runtimeconfig.json properties are not consulted for them). Each is measured in
/// docs/performance.md (run 5); a service started some other way runs with the runtime's defaults, and
/// <c>Runtime:Tuning=false</c> (AppHost configuration) turns them off for an A/B run.
/// </summary>
public static class RuntimeTuningExtensions
{
    /// <summary>
    /// The workstation GC's smallest gen0 budget. Its default here (concurrent GC: at most 6 MB) meant 3–7 GCs a
    /// second per service at 500 streams, most of them gen1 collections of every running turn's state, 20–60 ms
    /// each on a busy box: GC pauses were a fifth of the LLM service's time and the tail of the token lag.
    /// </summary>
    public const string Gen0Budget = "0x4000000"; // 64 MiB

    /// <summary>
    /// Arrays per size kept by each per-core partition of the shared ArrayPool (default 32). HttpClient's HTTP/2
    /// streams rent a 16 KB block whenever data arrives and return it when read; with hundreds of streams receiving
    /// at once the 64 pooled blocks ran out and most of the gateway's and the transports' allocations were new blocks.
    /// </summary>
    public const string PooledArraysPerPartition = "512";

    /// <param name="builder">The service.</param>
    /// <param name="largeGen0Budget">
    /// False for a service whose objects rarely outlive a collection (the gateway: its collections stay short with
    /// the default budget, and the larger one cost it ~160 MB with 10,000 idle streams open).
    /// </param>
    public static IResourceBuilder<T> WithRuntimeTuning<T>(this IResourceBuilder<T> builder, bool largeGen0Budget = true)
        where T : IResourceWithEnvironment
    {
        if (!builder.ApplicationBuilder.Configuration.GetValue("Runtime:Tuning", true))
        {
            return builder;
        }

        if (largeGen0Budget)
        {
            builder.WithEnvironment("DOTNET_GCgen0size", Gen0Budget);
        }

        return builder.WithEnvironment("DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION", PooledArraysPerPartition);
    }
}
