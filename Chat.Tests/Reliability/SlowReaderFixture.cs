using Chat.Contracts.Llm.V1;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Reliability;

/// <summary>
/// The whole graph for clients that never read a stream: one replica of everything, an unpaced offline model whose
/// every reply is <see cref="ReplyTokens"/> tokens (megabytes on the wire, enough to fill every buffer between the
/// transport and a client that does not read), and <c>Transport:StreamWriteTimeout</c> of 2 s, under the 5 s grace
/// of the gateway's own MinResponseDataRate, so the transport is the one that notices.
/// </summary>
public sealed class SlowReaderFixture : IAsyncLifetime
{
    public const int ReplyTokens = 150_000;

    public static readonly TimeSpan StreamWriteTimeout = TimeSpan.FromSeconds(2);

    public DistributedApplication App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var appHost = await ChatAppHost.CreateAsync(["--replicas", "llm=1,sse=1"], new Dictionary<string, string?>
            {
                ["Llm:Provider"] = "offline",
                ["Llm:Offline:TimeToFirstTokenMs"] = "0",
                ["Llm:Offline:InterTokenDelayMs"] = "0",
                ["Llm:Offline:ReplyTokens"] = ReplyTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Transport:StreamWriteTimeout"] = StreamWriteTimeout.ToString(),
            }).DefaultTimeout();
        App = await appHost.StartHealthyAsync(TimeSpan.FromSeconds(90));
    }

    public async Task DisposeAsync() => await App.DisposeAsync();

    public HttpClient Gateway() => App.CreateHttpClient("gateway", "http");

    public async Task<GetHistoryResponse> HistoryAsync(string sessionId)
    {
        using var channel = await App.CreateGrpcChannelAsync("llm");
        var llm = new LlmService.LlmServiceClient(channel);
        return await llm.GetHistoryAsync(new GetHistoryRequest { SessionId = sessionId }).ResponseAsync.DefaultTimeout();
    }

    public async Task<ServerStats> StatsAsync()
    {
        using var channel = await App.CreateGrpcChannelAsync("llm");
        var llm = new LlmService.LlmServiceClient(channel);
        return await llm.GetStatsAsync(new GetStatsRequest()).ResponseAsync.DefaultTimeout();
    }
}

[CollectionDefinition(Name)]
public sealed class SlowReaderCollection : ICollectionFixture<SlowReaderFixture>
{
    public const string Name = "slow-reader";
}
