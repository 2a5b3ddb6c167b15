using Chat.Contracts.Llm.V1;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Reliability;

/// <summary>
/// The whole graph of Chat.AppHost's Program.cs for the fault, bad-input and security tests: two sse replicas (one is
/// killed mid-reply), one llm replica (killed mid-reply: nobody else may pick the turn up), API keys on at the
/// gateway (carol's with a cap of two concurrent streams), an offline model paced so a reply lasts about two seconds,
/// and a short turn lock so a crashed turn's lock expires within the test.
/// </summary>
public sealed class ReliabilityFixture : IAsyncLifetime
{
    public const string AliceKey = "alice-key-7f3c2a9e41d8";
    public const string BobKey = "bob-key-0b6d5e8f92a1";
    public const string CarolKey = "carol-key-5a1e7c3d90b4";
    public const int CarolStreamCap = 2;

    public DistributedApplication App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var appHost = await ChatAppHost.CreateAsync(["--replicas", "llm=1,sse=2"], new Dictionary<string, string?>
            {
                ["Llm:Provider"] = "offline",
                ["Llm:Offline:TimeToFirstTokenMs"] = "0",
                ["Llm:Offline:InterTokenDelayMs"] = "40",
                ["Llm:Offline:ReplyTokens"] = "50",
                ["Llm:Sessions:TurnLockTimeout"] = "00:00:02",
                ["Gateway:ApiKeys:alice:Key"] = AliceKey,
                ["Gateway:ApiKeys:bob:Key"] = BobKey,
                ["Gateway:ApiKeys:carol:Key"] = CarolKey,
                ["Gateway:Limits:MaxConcurrentStreamsByPrincipal:carol"] = CarolStreamCap.ToString(System.Globalization.CultureInfo.InvariantCulture),
            }).DefaultTimeout();
        App = await appHost.StartHealthyAsync(TimeSpan.FromSeconds(90));
    }

    public async Task DisposeAsync() => await App.DisposeAsync();

    /// <summary>The LLM service as the transports call it (with the internal credential).</summary>
    public async Task<(LlmService.LlmServiceClient Client, IDisposable Channel)> LlmAsync()
    {
        var channel = await App.CreateGrpcChannelAsync("llm");
        return (new LlmService.LlmServiceClient(channel), channel);
    }

    public HttpClient Gateway(string? apiKey)
    {
        var client = App.CreateHttpClient("gateway", "http");
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }

        return client;
    }

    /// <summary>Everything every replica has written to its console so far.</summary>
    public async Task<string> AllConsoleLogsAsync()
    {
        var logs = new List<string>();
        foreach (var resource in App.ProcessResources())
        {
            logs.Add(await App.GetConsoleLogAsync(resource.Name, 10_000));
        }

        return string.Join('\n', logs);
    }
}

[CollectionDefinition(Name)]
public sealed class ReliabilityCollection : ICollectionFixture<ReliabilityFixture>
{
    public const string Name = "reliability";
}
