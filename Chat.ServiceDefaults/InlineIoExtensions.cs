using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Where a socket's completions run. By default .NET hands every completed socket read or write from its epoll thread
/// to the thread pool, and Kestrel hands the request's continuation to the pool again: on the token path that is a
/// thread wake-up and a context switch per hop and token, the largest single cost on a 2-core box running ten
/// processes (docs/performance.md). With <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c> in the environment
/// (the AppHost sets it for every service) the runtime runs socket completions on the epoll thread, and Kestrel is told
/// to run request continuations there too (<see cref="SocketTransportOptions.UnsafePreferInlineScheduling"/>). That is
/// safe here because no code on these paths blocks a thread: everything awaits. <c>Kestrel:InlineScheduling</c>
/// overrides the Kestrel half.
/// </summary>
public static class InlineIoExtensions
{
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    public static TBuilder ConfigureInlineIo<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var inline = builder.Configuration.GetValue("Kestrel:InlineScheduling", Environment.GetEnvironmentVariable(InlineCompletionsVariable) == "1");
        builder.Services.Configure<SocketTransportOptions>(sockets => sockets.UnsafePreferInlineScheduling = inline);
        return builder;
    }
}
